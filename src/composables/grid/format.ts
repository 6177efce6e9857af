/**
 * Cell formats from the grid: the selection's cells (every range of it), formatted as one undo step
 * through the named mutation, cells this person may not edit left as they are (and the page told why);
 * the active cell's format for the toolbar's pressed buttons; Excel's shortcuts (Ctrl+B, Ctrl+I,
 * Ctrl+U, Ctrl+5).
 */
import { ref } from 'vue'
import {
  STYLE_PROPS, clearCellStyle, readStyle, setBorders, setCellStyle, stylesOf, toggled, type BorderKind, type CellStyle, type StyledCell, type StylePatch,
} from '../../core/workbook/styles'
import type { Refusal } from '../../core/access/refusal'
import type { GridContext } from './context'
import type { GridEdits } from './edits'

/** the most cells one format change takes (a whole sheet of 100 rows × 26 columns is 2,600) */
export const MAX_FORMAT_CELLS = 100_000

export type GridFormat = ReturnType<typeof createFormat>
export type ToggleProp = 'b' | 'i' | 'u' | 's' | 'wrap'

export function createFormat(ctx: GridContext, edits: GridEdits) {
  const { wb, rows, sheetId, actions } = ctx
  /** the active cell's format, for the toolbar */
  const active = ref<CellStyle>({})
  /** the format painter: the format picked up, until the next selection takes it (null: not painting) */
  const painter = ref<CellStyle | null>(null)

  const lookAt = (r: number, c: number): CellStyle => {
    const rowId = rows.rowIds[r], colId = rows.colIds[c]
    return rowId && colId ? readStyle(stylesOf(wb.doc), sheetId.value, rowId, colId) : {}
  }

  /** The selected cells this person may format, and the first refusal met (cells left out). */
  function targets(): { cells: StyledCell[]; refusal: Refusal | null; tooMany: boolean } {
    const hot = ctx.hot
    const cells: StyledCell[] = []
    let refusal: Refusal | null = null
    const seen = new Set<string>()
    for (const range of hot?.getSelectedRange() ?? []) {
      const from = range.getTopStartCorner(), to = range.getBottomEndCorner()
      const r1 = Math.max(0, from.row ?? 0), c1 = Math.max(0, from.col ?? 0), r2 = to.row ?? -1, c2 = to.col ?? -1
      for (let r = r1; r <= r2 && r < rows.rowIds.length; r++) {
        for (let c = c1; c <= c2 && c < rows.colIds.length; c++) {
          const key = `${r}:${c}`
          if (seen.has(key)) continue
          seen.add(key)
          const no = edits.refusalAt(r, c)
          if (no) { refusal ??= no; continue }
          if (cells.length >= MAX_FORMAT_CELLS) return { cells, refusal, tooMany: true }
          cells.push({ rowId: rows.rowIds[r]!, colId: rows.colIds[c]! })
        }
      }
    }
    return { cells, refusal, tooMany: false }
  }

  function run(fn: (cells: StyledCell[]) => void): void {
    const { cells, refusal, tooMany } = targets()
    try {
      if (tooMany) throw new Error(ctx.labels().formatTooMany(MAX_FORMAT_CELLS))
      if (cells.length) fn(cells)
    } catch (e) { ctx.onError(e); return }
    if (refusal) actions?.refused?.(refusal)
    refresh()
  }

  function apply(patch: StylePatch): void {
    run(cells => wb.mutate((doc, origin) => setCellStyle(doc, sheetId.value, cells, patch, origin)))
  }

  function toggle(p: ToggleProp): void {
    run(cells => wb.mutate((doc, origin) => setCellStyle(doc, sheetId.value, cells, toggled(doc, sheetId.value, cells, p), origin)))
  }

  function clear(): void {
    run(cells => wb.mutate((doc, origin) => clearCellStyle(doc, sheetId.value, cells, origin)))
  }

  function refresh(): void {
    const sel = ctx.hot?.getSelectedLast()
    const next = sel && sel[0] >= 0 && sel[1] >= 0 ? lookAt(sel[0], sel[1]) : {}
    if (JSON.stringify(next) !== JSON.stringify(active.value)) active.value = next
  }

  /** Excel's format shortcuts; true when the key was one. */
  function onKey(e: KeyboardEvent): boolean {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return false
    const k = e.key.toLowerCase()
    const p: ToggleProp | undefined = k === 'b' ? 'b' : k === 'i' ? 'i' : k === 'u' ? 'u' : k === '5' ? 's' : undefined
    if (!p) return false
    e.preventDefault()
    e.stopImmediatePropagation()
    toggle(p)
    return true
  }

  /** Borders on each range of the selection (every cell edge, the outline, or none), as one step. */
  function borders(kind: BorderKind): void {
    const hot = ctx.hot
    let refusal: Refusal | null = null
    const blocks: { rowIds: string[]; colIds: string[] }[] = []
    for (const range of hot?.getSelectedRange() ?? []) {
      const a = range.getTopStartCorner(), b = range.getBottomEndCorner()
      const r1 = Math.max(0, a.row ?? 0), r2 = Math.min(rows.rowIds.length - 1, b.row ?? -1)
      const c1 = Math.max(0, a.col ?? 0), c2 = Math.min(rows.colIds.length - 1, b.col ?? -1)
      if ((r2 - r1 + 1) * (c2 - c1 + 1) > MAX_FORMAT_CELLS) { ctx.onError(new Error(ctx.labels().formatTooMany(MAX_FORMAT_CELLS))); return }
      for (let r = r1; r <= r2 && !refusal; r++) for (let c = c1; c <= c2 && !refusal; c++) refusal = edits.refusalAt(r, c)
      blocks.push({ rowIds: rows.rowIds.slice(r1, r2 + 1), colIds: rows.colIds.slice(c1, c2 + 1) })
    }
    // an outline drawn around a cell one may not edit would not be the outline asked for: none of it
    if (refusal) { actions?.refused?.(refusal); return }
    try {
      wb.mutate((doc, origin) => doc.transact(() => { for (const b of blocks) setBorders(doc, sheetId.value, b, kind, origin) }, origin))
    } catch (e) { ctx.onError(e) }
    refresh()
  }

  /** Picks up the active cell's format (Excel's format painter); the next selection gets it. */
  function pick(): void {
    const sel = ctx.hot?.getSelectedLast()
    painter.value = painter.value ? null : sel ? lookAt(sel[0], sel[1]) : null
  }

  /** The selection just made takes the picked-up format, every property of it (what it lacks is taken off). */
  function paint(): void {
    const look = painter.value
    if (!look) return
    painter.value = null
    apply(Object.fromEntries(STYLE_PROPS.map(p => [p, look[p] ?? null])) as StylePatch)
  }

  return { active, painter, pick, paint, borders, apply, toggle, clear, refresh, onKey, wraps: (r: number, c: number) => lookAt(r, c).wrap === true }
}
