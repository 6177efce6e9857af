/**
 * How the grid draws: each cell shows the formula engine's value (formatted, as text: user content
 * never becomes HTML) with its marks (error, totals row, colour rules, validation, protection) and
 * colleagues' selections outlined in their colour; column headers carry the column's title. The marks'
 * styles are in render.css, under the grid container's class.
 */
import type Handsontable from '../handsontable'
import { baseRenderer } from 'handsontable/renderers'
import { RULE_STYLES } from '../../core/workbook/schema'
import { colToLetters } from '../../core/formulas/references'
import { isErrorValue } from '../../core/formulas/engine'
import { formatValue } from '../../core/format'
import { ruleStyle, validationProblem } from '../../core/workbook/table'
import { readStyle, stylesOf, type CellStyle } from '../../core/workbook/styles'
import { extentOf, scaleLook, validScale, type Extent, type ScaleLook } from '../../core/workbook/scale'
import { format as formatCode } from 'numfmt'
import { peerBox, type PeerBox } from '../../sync/presence'
import { DateTextEditor, DATE_PICKER_LABELS, DATE_PICKER_TODAY } from '../gridEditors'
import { workbookTimeZone, zonedToday } from '../../core/workbook/zone'
import type { GridContext, GridLabels } from './context'
import { isCut } from './clipboard'
import './render.css'

/** The class of the element a workbook grid is drawn in: render.css styles cells under it. */
export const GRID_CLASS = 'pw-grid'

export type GridRender = ReturnType<typeof createRender>

export function createRender(ctx: GridContext) {
  const { rows, sheetId, labels, actions } = ctx
  /** labels for the renderer, rebuilt when the language changes */
  let cachedLabels: GridLabels | null = null
  /** colleagues' selections on this sheet, in visible positions (recomputed when they or the layout change) */
  let boxes: PeerBox[] = []

  function computeBoxes(): void {
    const peers = actions?.peers?.value ?? []
    if (!peers.length) { boxes = []; return }
    const rowIndex = new Map(rows.rowIds.map((id, i) => [id, i]))
    const colIndex = new Map(rows.colIds.map((id, i) => [id, i]))
    boxes = peers
      .map(p => peerBox(p, sheetId.value, id => rowIndex.get(id) ?? -1, id => colIndex.get(id) ?? -1))
      .filter((b): b is PeerBox => b !== null)
  }

  /** Outlines colleagues' selections in their colour, with their name on the active cell. */
  function paintPresence(td: HTMLTableCellElement, row: number, col: number): void {
    let shadow = ''
    let tag: PeerBox | undefined
    for (const b of boxes) {
      if (row < b.r1 || row > b.r2 || col < b.c1 || col > b.c2) continue
      const edges: string[] = []
      if (row === b.r1) edges.push(`inset 0 2px 0 0 ${b.peer.color}`)
      if (row === b.r2) edges.push(`inset 0 -2px 0 0 ${b.peer.color}`)
      if (col === b.c1) edges.push(`inset 2px 0 0 0 ${b.peer.color}`)
      if (col === b.c2) edges.push(`inset -2px 0 0 0 ${b.peer.color}`)
      if (edges.length) shadow = shadow ? `${shadow}, ${edges.join(', ')}` : edges.join(', ')
      if (row === b.tagRow && col === b.tagCol && !tag) tag = b
    }
    td.style.boxShadow = shadow
    td.classList.toggle('cell-peer', !!shadow)
    if (tag) {
      const span = document.createElement('span')
      span.className = 'presence-tag'
      span.style.background = tag.peer.color
      // text only: a name is user input
      span.textContent = tag.peer.name
      span.dataset.peer = String(tag.peer.clientId)
      td.appendChild(span)
    }
  }

  const colIdOf = (c: number): string | undefined => rows.colIds[c]

  /** each scaled column's lowest and highest number over its data rows, for one render pass */
  let extents = new Map<number, Extent | null>()
  function extent(col: number): Extent | null {
    if (extents.has(col)) return extents.get(col)!
    const engine = rows.engine()
    const values: unknown[] = []
    rows.rowIds.forEach((id, r) => { if (id !== rows.totalsId) values.push(engine.getValue(sheetId.value, r, col)) })
    const e = extentOf(values)
    extents.set(col, e)
    return e
  }

  function cellRenderer(this: unknown, instance: Handsontable, td: HTMLTableCellElement, row: number, col: number, prop: string | number, value: unknown, cp: Handsontable.CellProperties) {
    baseRenderer.call(this as never, instance as never, td, row, col, prop, value, cp as never)
    const engine = rows.engine()
    const v = engine.getValue(sheetId.value, row, col)
    const meta = rows.colMeta(col)
    const numeric = typeof v === 'number'
    const rowId = rows.rowIds[row]
    const look: CellStyle = rowId && colIdOf(col) ? readStyle(stylesOf(ctx.wb.doc), sheetId.value, rowId, colIdOf(col)!) : {}
    // text only: user content never becomes HTML; a cell's own number format goes over its column's
    td.textContent = look.nf && numeric ? formatCode(look.nf, v, { locale: 'zh-CN' }) : formatValue(v, meta)
    const isTotals = rowId !== undefined && rowId === rows.totalsId
    td.classList.toggle('cell-error', isErrorValue(v))
    td.classList.toggle('cell-select', meta?.type === 'select')
    td.classList.toggle('cell-totals', isTotals)
    const colIdHere = rows.colIds[col]
    td.classList.toggle('cell-protected', !!rowId && !!colIdHere && !!actions?.access?.isProtected(sheetId.value, rowId, colIdHere))
    td.classList.toggle('cell-cut', !!rowId && !!colIdHere && isCut(sheetId.value, rowId, colIdHere))
    const style = meta?.rules && rowId
      ? ruleStyle(meta, id => (id === undefined ? v : engine.getValueById(sheetId.value, rowId, id)), isTotals)
      : undefined
    for (const st of RULE_STYLES) td.classList.toggle(`cell-${st}`, st === style)
    const scale = meta?.scale && !isTotals ? validScale(meta.scale) : undefined
    const scaled = scale && !style ? scaleLook(scale, v, extent(col)) : undefined
    // a conditional colour goes over the cell's fill, as in Excel; the fill goes over the totals row's grey
    paintFormat(td, look, numeric, !!style, scaled)
    // borders: a cell draws its own bottom and right edge, and the edge its neighbour below or to the right asks for
    const below = rows.rowIds[row + 1], right = rows.colIds[col + 1]
    const styles = stylesOf(ctx.wb.doc)
    td.classList.toggle('fmt-bb', !!look.bb || (!!below && !!colIdOf(col) && readStyle(styles, sheetId.value, below, colIdOf(col)!).bt === true))
    td.classList.toggle('fmt-br', !!look.br || (!!right && !!rowId && readStyle(styles, sheetId.value, rowId, right).bl === true))
    // the first row and column have no neighbour to draw their top and left edge
    td.classList.toggle('fmt-bt', row === 0 && !!look.bt)
    td.classList.toggle('fmt-bl', col === 0 && !!look.bl)
    const problem = validationProblem(meta, v)
    td.classList.toggle('cell-invalid', !!problem)
    // under review, a changed cell is marked and its tooltip says what it held (an attribute: text, never HTML)
    const change = rowId && colIdHere ? actions?.changeAt?.(sheetId.value, rowId, colIdHere) ?? null : null
    td.classList.toggle('cell-diff-added', change?.kind === 'added')
    td.classList.toggle('cell-diff-changed', change?.kind === 'changed')
    td.classList.toggle('cell-diff-removed', change?.kind === 'removed')
    const was = change ? (cachedLabels ??= labels()).was(change.was) : ''
    const tip = isErrorValue(v) && v.message ? v.message : problem ? (cachedLabels ??= labels()).invalid(problem) : ''
    if (tip || was) td.title = tip && was ? `${was}\n${tip}` : was || tip
    else td.removeAttribute('title')
    paintPresence(td, row, col)
    // an open comment: a triangle in the top-right corner (another tint while it assigns work not done)
    const mark = rowId && colIdHere ? actions?.commentMark?.(rowId, colIdHere) ?? null : null
    td.classList.toggle('cell-comment', !!mark)
    if (mark) {
      const span = document.createElement('span')
      span.className = mark === 'assigned' ? 'comment-mark assigned' : 'comment-mark'
      span.setAttribute('aria-hidden', 'true')
      td.appendChild(span)
    }
  }

  /** The cell's own format; numbers go right unless the cell says otherwise (as in Excel). */
  function paintFormat(td: HTMLTableCellElement, look: CellStyle, numeric: boolean, ruled: boolean, scaled?: ScaleLook): void {
    const ha = look.ha ?? (numeric ? 'right' : undefined)
    td.classList.toggle('htLeft', ha === 'left')
    td.classList.toggle('htCenter', ha === 'center')
    td.classList.toggle('htRight', ha === 'right')
    td.classList.toggle('htTop', look.va === 'top')
    td.classList.toggle('htMiddle', look.va === 'middle')
    td.classList.toggle('htBottom', look.va === 'bottom')
    td.classList.toggle('fmt-b', !!look.b)
    td.classList.toggle('fmt-i', !!look.i)
    td.classList.toggle('fmt-u', !!look.u)
    td.classList.toggle('fmt-s', !!look.s)
    // (colours are checked #rrggbb: nothing else reaches the style)
    td.style.setProperty('color', look.fc ?? '', look.fc && !ruled ? 'important' : '')
    // a colour scale goes over the fill and under a conditional colour; a data bar is drawn over either
    // (scale colours are checked #rrggbb too, by validScale)
    const bg = scaled && 'bg' in scaled && !ruled ? scaled.bg : look.bg
    td.style.setProperty('background-color', bg ?? '', bg && !ruled ? 'important' : '')
    td.style.backgroundImage = scaled && 'bar' in scaled
      ? `linear-gradient(to right, ${scaled.bar}99 ${scaled.pct}%, transparent ${scaled.pct}%)` : ''
    td.classList.toggle('cell-bar', !!scaled && 'bar' in scaled)
  }

  /** The editor and renderer of a column, by its type. */
  function columnSettings(c: number): Handsontable.ColumnSettings {
    const meta = rows.colMeta(c)
    // Handsontable's dropdown strips anything tag-like from its options (it never renders them as HTML,
    // but would show and write "<b>x</b>" as "x"): such options are left out of the list, and typed
    const options = meta?.type === 'select' ? meta.options?.filter(o => !/<[^>]*>/.test(o)) : undefined
    if (options?.length) {
      return { editor: 'dropdown', source: options, strict: false, filter: false, renderer: cellRenderer as never }
    }
    if (meta?.type === 'date') return { editor: DateTextEditor as never, renderer: cellRenderer as never, [DATE_PICKER_LABELS]: () => labels().datePicker, [DATE_PICKER_TODAY]: () => zonedToday(workbookTimeZone(ctx.wb.doc)) }
    return { editor: 'text', renderer: cellRenderer as never }
  }

  function headerText(c: number): string {
    const meta = rows.colMeta(c)
    return meta?.title ? `${colToLetters(c)} · ${meta.title}` : colToLetters(c)
  }

  /** Column headers: the letter and title, marks for help and a column formula, the rest in the tooltip. */
  function afterGetColHeader(c: number, th: HTMLTableCellElement): void {
    if (c < 0) return
    const span = th.querySelector('.colHeader')
    if (span) span.textContent = headerText(c)
    const meta = rows.colMeta(c)
    // headers are narrow: the tooltip carries the whole title, its help and whether it is calculated
    const tip = [meta?.title, meta?.help, meta?.formula ? labels().calculated : ''].filter(Boolean).join('\n')
    th.classList.toggle('col-help', !!meta?.help)
    th.classList.toggle('col-calculated', !!meta?.formula)
    th.classList.toggle('col-filtered', rows.filteredCols.has(rows.colIds[c] ?? ''))
    if (tip) th.title = tip
    else th.removeAttribute('title')
  }

  return {
    computeBoxes,
    /** a render pass starts: the columns' extents are taken again */
    beforeRender(): void { extents = new Map() },
    columnSettings,
    afterGetColHeader,
    /** the language changed: labels are read again at the next render */
    relabel(): void { cachedLabels = null },
  }
}
