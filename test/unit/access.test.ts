/**
 * The access rules as the server applies them (checkChange on a mirror doc), on the appraisal template:
 * what the workbook writes by itself in protected cells (calculated columns, totals ranges growing)
 * passes; what a person writes there does not, unless the protection allows them.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook } from '../../src/core/templates/template'
import {
  cellRefusal, checkChange, defineRoots, lockSheet, quickCellCheck, readAccess, readProtections, setProtections, unlockSheet,
  type Principal, type Protection, type Refusal,
} from '../../src/core/access/access'
import { editCells, insertCols, insertRows, deleteRows, setColumnMeta, renameSheet, addSheet, deleteSheet } from '../../src/core/workbook/mutations'
import { sheetIds, sheetOrderOf, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { personalUndo } from '../../src/sync/undo'
import { setCellStyle, styleKey, stylesOf } from '../../src/core/workbook/styles'
import { hiddenOf, setHidden } from '../../src/core/workbook/hidden'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { inputFromText } from '../../src/core/workbook/input'
import { makeDoc, rng, type as typeIn } from '../helpers/workbook'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { parseA1 } from '../../src/core/formulas/references'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))

const editor = (name: string): Principal => ({ role: 'editor', name })
const OWNER: Principal = { role: 'owner', name: 'Boss' }

/** The appraisal workbook with 实际值, 得分 and 考核等级 protected for 王经理. */
function appraisal(extra: Partial<Protection> = {}) {
  const doc = new Y.Doc()
  defineRoots(doc)
  buildWorkbook(doc, registry.get('performance-appraisal')!, { locale: 'zh-CN' })
  const sheet = sheetIds(doc)[0]!
  const layout = new WorkbookLayout(doc).sheet(sheet)!
  const meta = sheetParts(sheetsOf(doc).get(sheet)!).colMeta
  const col = (title: string) => layout.cols.ids.find(c => (meta.get(c) as ColumnMeta | undefined)?.title === title)!
  const cols = ['实际值', '得分', '考核等级'].map(col)
  setProtections(doc, [{ id: 'pmgr', sheet, cols, names: ['王经理'], label: '经理评分', ...extra }])
  return { doc, sheet, layout, col }
}

/** A refusal as a short text for assertions: its code, and the label of the protection it names. */
function said(doc: Y.Doc, r: Refusal | null): string | null {
  if (!r) return null
  const label = r.protection ? readProtections(doc).find(p => p.id === r.protection)?.label : undefined
  return label ? `${r.code} ${label}` : r.code
}

/** Tries `change` on a copy of `doc` made by `who` and checks it as the server does; the refusal (code and label) or null. */
function attempt(doc: Y.Doc, who: Principal, change: (copy: Y.Doc) => void): string | null {
  return said(doc, refusalOf(doc, who, change))
}

/** The same, the refusal itself. */
function refusalOf(doc: Y.Doc, who: Principal, change: (copy: Y.Doc) => void): Refusal | null {
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
  const sv = Y.encodeStateVector(client)
  change(client)
  const update = Y.encodeStateAsUpdate(client, sv)
  const mirror = new Y.Doc()
  defineRoots(mirror)
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
  let r: Refusal | null = null
  mirror.transact(tr => { Y.applyUpdate(mirror, update); r = checkChange(doc, mirror, tr, who) })
  // the server's quick check of cell edits, where it decides, decides the same
  const quick = quickCellCheck(doc, update, Y.decodeUpdate(update), who)
  if (quick !== undefined) { quickVerdicts++; expect(quick).toEqual(r) }
  return r
}
let quickVerdicts = 0
const quickCheckOf = (doc: Y.Doc, update: Uint8Array, who: Principal) => quickCellCheck(doc, update, Y.decodeUpdate(update), who)

const write = (sheet: string, rowId: string, colId: string, text: string) => (d: Y.Doc) =>
  editCells(d, sheet, [{ rowId, colId, value: inputFromText(text, { layout: new WorkbookLayout(d), sheetId: sheet }) }])

describe('protected columns', () => {
  it('refuse a person not named, allow the manager and owners, and leave other columns free', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    expect(attempt(doc, editor('小李'), write(sheet, row, col('实际值'), '99'))).toBe('protected 经理评分')
    expect(attempt(doc, editor('王经理'), write(sheet, row, col('实际值'), '99'))).toBeNull()
    expect(attempt(doc, OWNER, write(sheet, row, col('实际值'), '99'))).toBeNull()
    expect(attempt(doc, editor('小李'), write(sheet, row, col('目标值'), '120'))).toBeNull()
    // settings of a protected column are protected too
    expect(attempt(doc, editor('小李'), d => setColumnMeta(d, sheet, col('得分'), { title: '随便' }))).toBe('protected 经理评分')
    expect(attempt(doc, editor('小李'), d => setColumnMeta(d, sheet, col('目标值'), { width: 140 }))).toBeNull()
    // the rules themselves are the owner's
    expect(attempt(doc, editor('王经理'), d => setProtections(d, []))).toBe('protections-owner-only')
    expect(attempt(doc, OWNER, d => setProtections(d, []))).toBeNull()
  })

  it('let the workbook fill calculated columns and grow the totals row when an editor adds a row', () => {
    const { doc, sheet, layout, col } = appraisal()
    // a row inserted above the totals row: its calculated 得分/考核等级 and the totals' ranges are the workbook's doing
    const totalsAt = layout.rows.ids.indexOf(sheetsOf(doc).get(sheet)!.get('totalsRow') as string)
    expect(totalsAt).toBeGreaterThan(0)
    expect(attempt(doc, editor('小李'), d => insertRows(d, sheet, totalsAt, 1))).toBeNull()
    // typing into the row right below the table fills its calculated columns: also fine
    const below = layout.rows.ids[totalsAt + 1]!
    expect(attempt(doc, editor('小李'), write(sheet, below, col('考核指标'), '新指标'))).toBeNull()
    // but rewriting the totals row's score is not
    const totals = layout.rows.ids[totalsAt]!
    expect(attempt(doc, editor('小李'), write(sheet, totals, col('得分'), '100'))).toBe('protected 经理评分')
    // nor shrinking its range onto a row inserted elsewhere: only growing over rows added at its end passes
    const stored = (sheetParts(sheetsOf(doc).get(sheet)!).cells.get(`${totals}:${col('得分')}`) as { v: string }).v
    const end = layout.rows.ids[totalsAt - 1]!
    expect(stored).toContain(end)
    expect(attempt(doc, editor('小李'), d => {
      const [fresh] = insertRows(d, sheet, 1, 1)
      sheetParts(sheetsOf(d).get(sheet)!).cells.set(`${totals}:${col('得分')}`, { t: 'f', v: stored.split(end).join(fresh!) })
    })).toBe('protected 经理评分')
  })

  it('refuse deleting a row that holds protected values, and deleting a protected column', () => {
    const { doc, sheet, layout, col } = appraisal()
    expect(attempt(doc, editor('小李'), d => deleteRows(d, sheet, 0, 1))).toBe('protected 经理评分')
    expect(attempt(doc, editor('王经理'), d => deleteRows(d, sheet, 0, 1))).toBeNull()
    // an empty row far below the table has nothing protected in it
    expect(attempt(doc, editor('小李'), d => deleteRows(d, sheet, 20, 1))).toBeNull()
    const at = layout.cols.ids.indexOf(col('得分'))
    expect(attempt(doc, editor('小李'), d => { const m = sheetParts(sheetsOf(d).get(sheet)!); m.colsGone.set(m.cols.get(at), { prev: null, next: null }) })).toBe('protected 经理评分')
  })

  it('per-row ownership: the person named in a row edits that row only, and cannot rename themselves into another', () => {
    const { doc, sheet, layout, col } = appraisal({ personCol: undefined })
    // the 考核维度 column stands in for the person column here
    const person = col('考核维度')
    setProtections(doc, [{ id: 'pself', sheet, cols: [col('手工得分')], names: ['王经理'], personCol: person }])
    const [r0, r1] = layout.rows.ids
    editCells(doc, sheet, [{ rowId: r0!, colId: person, value: '小李' }, { rowId: r1!, colId: person, value: '小张' }])
    expect(attempt(doc, editor('小李'), write(sheet, r0!, col('手工得分'), '12'))).toBeNull()
    expect(attempt(doc, editor('小李'), write(sheet, r1!, col('手工得分'), '12'))).toBe('protected')
    // naming oneself in someone else's row (and scoring it at once) is refused: the person column is the managers'
    expect(attempt(doc, editor('小李'), d => { write(sheet, r1!, person, '小李')(d); write(sheet, r1!, col('手工得分'), '12')(d) })).toBe('protected')
    expect(cellRefusal(readAccess(doc), doc, editor('小张'), sheet, r1!, col('手工得分'))).toBeNull()
    expect(cellRefusal(readAccess(doc), doc, editor('小张'), sheet, r0!, col('手工得分'))?.code).toBe('protected')
  })
})

describe('sign-off lock', () => {
  it('stops every edit of the sheet, the owner\'s too, until the manager or an owner unlocks it', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    expect(attempt(doc, editor('小李'), d => lockSheet(d, sheet, '小李'))).toBe('lock-not-allowed')
    // a sign-off carries the signer's own name
    expect(attempt(doc, editor('王经理'), d => lockSheet(d, sheet, '李总'))).toBe('lock-own-name')
    lockSheet(doc, sheet, '王经理')
    for (const who of [editor('小李'), editor('王经理'), OWNER]) {
      expect(attempt(doc, who, write(sheet, row, col('目标值'), '1'))).toBe('locked')
    }
    expect(attempt(doc, OWNER, d => renameSheet(d, sheet, '考核2026'))).toBe('locked')
    expect(attempt(doc, OWNER, d => insertRows(d, sheet, 0, 1))).toBe('locked')
    expect(attempt(doc, editor('小李'), d => deleteSheet(d, sheet))).toBe('locked')
    // other sheets stay open
    const rules = sheetIds(doc)[1]!
    const rl = new WorkbookLayout(doc).sheet(rules)!
    expect(attempt(doc, editor('小李'), write(rules, rl.rows.ids[20]!, rl.cols.ids[0]!, 'x'))).toBeNull()
    expect(attempt(doc, editor('小李'), d => addSheet(d, { name: '新表', rows: 3, cols: 3 }))).toBeNull()
    expect(attempt(doc, editor('小李'), d => unlockSheet(d, sheet))).toBe('lock-not-allowed')
    expect(attempt(doc, editor('王经理'), d => unlockSheet(d, sheet))).toBeNull()
    unlockSheet(doc, sheet)
    expect(attempt(doc, editor('小李'), write(sheet, row, col('目标值'), '1'))).toBeNull()
  })
})

describe('what is not a workbook', () => {
  it('refuses root types the app never writes, and viewers always', () => {
    const { doc } = appraisal()
    expect(attempt(doc, editor('小李'), d => d.getMap('evil').set('x', 1))).toBe('not-workbook')
    expect(attempt(doc, { role: 'viewer', name: 'v' }, d => d.getMap('meta').set('title', 'x'))).toBe('read-only')
    expect(attempt(doc, editor('小李'), d => d.getMap('meta').set('title', '新标题'))).toBeNull()
  })
})

// ── from a security review: hostile changes that must be refused, and normal ones that must pass ───

const cellsOf = (d: Y.Doc, s: string) => sheetParts(sheetsOf(d).get(s)!).cells
const rowsOf = (d: Y.Doc, s: string) => sheetParts(sheetsOf(d).get(s)!).rows

describe('hostile changes', () => {
  it('a protected formula rewritten through rows named like columns, or a range start moved, is refused', () => {
    const { doc, sheet, layout, col } = appraisal()
    const r0 = layout.rows.ids[0]!
    const key = `${r0}:${col('得分')}`
    const score = (cellsOf(doc, sheet).get(key) as { v: string }).v
    const E = col('实际值'), D = col('目标值')
    expect(attempt(doc, editor('小李'), d => {
      rowsOf(d, sheet).push([E, D])
      cellsOf(d, sheet).set(key, { t: 'f', v: score.split(E).join(D) })
    })).toBe('protected 经理评分')
    const totals = sheetsOf(doc).get(sheet)!.get('totalsRow') as string
    const tkey = `${totals}:${col('得分')}`
    const sum = (cellsOf(doc, sheet).get(tkey) as { v: string }).v
    expect(attempt(doc, editor('小李'), d => {
      rowsOf(d, sheet).insert(rowsOf(d, sheet).toArray().indexOf(r0) + 1, ['rnew0'])
      cellsOf(d, sheet).set(tkey, { t: 'f', v: sum.split(r0).join('rnew0') })
    })).toBe('protected 经理评分')
  })

  it('rows brought back or moved (an id inserted twice) need the rights of deleting them', () => {
    const { doc, sheet } = appraisal()
    setProtections(doc, [{ id: 'all', sheet, names: ['王经理'] }])
    deleteRows(doc, sheet, 0, 1)
    const gone = [...sheetParts(sheetsOf(doc).get(sheet)!).rowsGone.keys()]
    expect(attempt(doc, editor('小李'), d => sheetParts(sheetsOf(d).get(sheet)!).rowsGone.delete(gone[0]!))).toBe('protected')
    expect(attempt(doc, editor('王经理'), d => sheetParts(sheetsOf(d).get(sheet)!).rowsGone.delete(gone[0]!))).toBeNull()
    const totals = sheetsOf(doc).get(sheet)!.get('totalsRow') as string
    expect(attempt(doc, OWNER, d => rowsOf(d, sheet).insert(0, [totals]))).toBe('duplicate-insert')
  })

  it('shapes that would break every replica: a sheet without parts, parts replaced, a nested type as a cell value', () => {
    const { doc, layout } = appraisal()
    expect(attempt(doc, OWNER, d => d.transact(() => {
      const s = new Y.Map<unknown>()
      s.set('name', 'x')
      sheetsOf(d).set('sbad', s as never)
      sheetOrderOf(d).push(['sbad'])
    }))).toBe('not-a-sheet')
    const rules = sheetIds(doc)[1]!
    expect(attempt(doc, editor('小李'), d => sheetsOf(d).get(rules)!.set('rows', new Y.Map()))).toBe('sheet-parts')
    expect(attempt(doc, editor('小李'), d => cellsOf(d, rules).set(`${layout.rows.ids[0]}:x`, new Y.Map() as never))).toBe('not-a-cell-value')
    expect(attempt(doc, editor('小李'), d => cellsOf(d, rules).set('a:b', { t: 'f', v: 'no equals sign' } as never))).toBe('not-a-cell-value')
    expect(attempt(doc, editor('小李'), d => sheetOrderOf(d).push([42 as unknown as string]))).toBe('not-a-sheet-id')
  })
})

describe('cell formats', () => {
  it('follow the cell rules: a protected cell keeps its look, a free one takes any; a signed-off sheet none; only formats the grid knows', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    const bold = (colId: string) => (d: Y.Doc) => setCellStyle(d, sheet, [{ rowId: row, colId }], { b: true, bg: '#ffeeaa' })
    expect(attempt(doc, editor('小李'), bold(col('实际值')))).toBe('protected 经理评分')
    expect(attempt(doc, editor('王经理'), bold(col('实际值')))).toBeNull()
    expect(attempt(doc, editor('小李'), bold(col('目标值')))).toBeNull()
    expect(attempt(doc, { role: 'viewer', name: 'v' }, bold(col('目标值')))).toBe('read-only')
    // taken off counts as a change too
    setCellStyle(doc, sheet, [{ rowId: row, colId: col('实际值') }], { b: true })
    expect(attempt(doc, editor('小李'), d => setCellStyle(d, sheet, [{ rowId: row, colId: col('实际值') }], { b: null }))).toBe('protected 经理评分')
    // written by hand, past the mutation's own check
    expect(attempt(doc, editor('小李'), d => stylesOf(d).set(styleKey(sheet, row, col('目标值'), 'bg'), 'red'))).toBe('not-a-style')
    expect(attempt(doc, editor('小李'), d => stylesOf(d).set(`${sheet}/${row}:${col('目标值')}#font`, 'x'))).toBe('not-a-style')
    expect(attempt(doc, editor('小李'), d => stylesOf(d).set('nonsense', true))).toBe('not-a-style')
    lockSheet(doc, sheet, 'Boss')
    expect(attempt(doc, OWNER, bold(col('目标值')))).toBe('locked')
  })
})

describe('hidden rows and columns', () => {
  it('a protected column or a row holding protected values stays in sight for those the protection leaves out; others hide freely', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    expect(attempt(doc, editor('小李'), d => setHidden(d, sheet, 'cols', [col('得分')], true))).toBe('protected 经理评分')
    expect(attempt(doc, editor('王经理'), d => setHidden(d, sheet, 'cols', [col('得分')], true))).toBeNull()
    expect(attempt(doc, editor('小李'), d => setHidden(d, sheet, 'cols', [col('目标值')], true))).toBeNull()
    // the row has a protected score in it
    expect(attempt(doc, editor('小李'), d => setHidden(d, sheet, 'rows', [row], true))).toBe('protected 经理评分')
    expect(attempt(doc, OWNER, d => setHidden(d, sheet, 'rows', [row], true))).toBeNull()
    expect(attempt(doc, { role: 'viewer', name: 'v' }, d => setHidden(d, sheet, 'cols', [col('目标值')], true))).toBe('read-only')
    expect(attempt(doc, OWNER, d => hiddenOf(d).set(`${sheet}/x/${row}`, true))).toBe('not-hidden-entry')
    expect(attempt(doc, OWNER, d => hiddenOf(d).set(`${sheet}/r/${row}`, 'yes'))).toBe('not-hidden-entry')
    lockSheet(doc, sheet, 'Boss')
    expect(attempt(doc, OWNER, d => setHidden(d, sheet, 'cols', [col('目标值')], true))).toBe('locked')
  })
})

describe('what the workbook does by itself passes', () => {
  it('undoing my own row insert above the totals row, and deleting a row I just added', () => {
    const { doc, sheet, layout } = appraisal()
    const totalsAt = layout.rows.ids.indexOf(sheetsOf(doc).get(sheet)!.get('totalsRow') as string)
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
    const origin = { who: 'local' }
    const undo = personalUndo(client, origin)
    const check = (change: () => void) => {
      const sv = Y.encodeStateVector(client)
      change()
      const u = Y.encodeStateAsUpdate(client, sv)
      const mirror = new Y.Doc(); defineRoots(mirror); Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
      let r: Refusal | null = null
      mirror.transact(tr => { Y.applyUpdate(mirror, u); r = checkChange(doc, mirror, tr, editor('小李')) })
      if (!r) Y.applyUpdate(doc, u)
      return r
    }
    expect(check(() => insertRows(client, sheet, totalsAt, 1, origin))).toBeNull()
    expect(check(() => undo.undo())).toBeNull()
    expect(check(() => insertRows(client, sheet, totalsAt, 1, origin))).toBeNull()
    expect(check(() => deleteRows(client, sheet, totalsAt, 1, origin))).toBeNull()
  })

  it('inserting rows above the totals row grows ranges in locked and protected sheets, and in protected calculated columns', () => {
    const { doc, sheet, layout, col } = appraisal()
    const rules = sheetIds(doc)[1]!
    const rl = new WorkbookLayout(doc).sheet(rules)!
    const totalsAt = layout.rows.ids.indexOf(sheetsOf(doc).get(sheet)!.get('totalsRow') as string)
    const first = layout.rows.ids[0]!, last = layout.rows.ids[totalsAt - 1]!
    const F = col('得分'), G = col('考核等级')
    cellsOf(doc, rules).set(`${rl.rows.ids[30]}:${rl.cols.ids[0]}`, { t: 'f', v: `=SUM(⟦${sheet}!${first},${F}:${last},${F}⟧)` })
    const meta = sheetParts(sheetsOf(doc).get(sheet)!).colMeta
    meta.set(G, { ...(meta.get(G) as ColumnMeta), formula: `=⟦@,${F}⟧/SUM(⟦$${first},${F}:$${last},${F}⟧)` })
    setProtections(doc, [...readAccess(doc).protections, { id: 'r', sheet: rules, cols: [rl.cols.ids[0]!], names: ['王经理'] }])
    expect(attempt(doc, editor('小李'), d => insertRows(d, sheet, totalsAt, 1))).toBeNull()
    lockSheet(doc, rules, 'Boss')
    expect(attempt(doc, editor('小李'), d => insertRows(d, sheet, totalsAt, 1))).toBeNull()
  })
})

describe('the quick check of cell edits (what the server decides without a mirror doc)', () => {
  it('decides random cell edits, clears and overwrites as the full check does, on protections, person columns, calculated columns and locks', () => {
    const { doc, sheet, layout, col } = appraisal()
    const person = col('考核维度')
    setProtections(doc, [
      { id: 'pmgr', sheet, cols: ['实际值', '得分', '考核等级'].map(col), names: ['王经理'], label: '经理评分' },
      { id: 'pself', sheet, cols: [col('手工得分')], names: ['王经理'], personCol: person },
      { id: 'prow', sheet, rows: [layout.rows.ids[2]!], roles: ['owner'] },
    ])
    editCells(doc, sheet, layout.rows.ids.slice(0, 4).map((rowId, i) => ({ rowId, colId: person, value: ['小李', '小张', '小李', '王经理'][i]! })))
    const { next: random, pick } = rng(7)
    const people = [editor('小李'), editor('小张'), editor('王经理'), editor(''), OWNER, { role: 'viewer', name: '访客' } as Principal]
    const values: unknown[] = [12, -3.5, '小李', '王经理', '', true, { t: 'f', v: '=1+1' }, { t: 'd', v: '2026-12-01' },
      { t: 'f', v: 'no equals' }, { nested: 1 }, [1, 2], { t: 'd', v: 'yesterday' }]
    const cells = () => sheetParts(sheetsOf(doc).get(sheet)!).cells
    const rows = layout.rows.ids.slice(0, 8), cols = layout.cols.ids
    const before = quickVerdicts
    let refused = 0, allowed = 0
    for (let i = 0; i < 400; i++) {
      if (i % 100 === 50) lockSheet(doc, sheet, '王经理')
      if (i % 100 === 75) unlockSheet(doc, sheet)
      const who = pick(people)
      const n = 1 + Math.floor(random() * 3)
      const targets = Array.from({ length: n }, () => [pick(rows), pick(cols)] as const)
      const change = (d: Y.Doc) => d.transact(() => {
        const m = sheetParts(sheetsOf(d).get(sheet)!).cells as Y.Map<unknown>
        for (const [r, c] of targets) {
          const key = `${r}:${c}`, roll = random()
          if (roll < 0.2) m.delete(key)
          else if (roll < 0.35 && m.has(key)) m.set(key, m.get(key))
          else m.set(key, pick(values))
        }
      })
      if (attempt(doc, who, change) === null) allowed++
      else refused++
      // the doc moves on, so that later edits overwrite and clear entries it has
      if (i % 3 === 0) editCells(doc, sheet, [{ rowId: pick(rows), colId: pick(cols), value: pick([5, '小张', '小李', null]) }])
    }
    expect(allowed).toBeGreaterThan(20)
    expect(refused).toBeGreaterThan(20)
    // nearly all of them were the quick check's to decide (the rest: a cell set twice in one change)
    expect(quickVerdicts - before).toBeGreaterThan(300)
    expect(cells().size).toBeGreaterThan(0)
  })
})

describe('what the quick check leaves to the full one', () => {
  it('an edit concurrent with one the doc has, rows inserted, a sheet renamed, edits the doc lacks', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!, key = `${layout.rows.ids[30]!}:${col('实际值')}`, other = `${row}:${col('目标值')}`
    const replica = () => { const d = new Y.Doc(); Y.applyUpdate(d, Y.encodeStateAsUpdate(doc)); return d }
    const changeOf = (d: Y.Doc, fn: (d: Y.Doc) => void) => { const sv = Y.encodeStateVector(d); fn(d); return Y.encodeStateAsUpdate(d, sv) }
    const cellsOf = (d: Y.Doc) => sheetParts(sheetsOf(d).get(sheet)!).cells
    const a = replica(), b = replica()
    // both write a key nobody had; the doc takes a's first: b's entry may not win, so the quick check cannot tell
    expect(cellsOf(doc).has(key)).toBe(false)
    Y.applyUpdate(doc, changeOf(a, d => cellsOf(d).set(key, 1)))
    expect(quickCheckOf(doc, changeOf(b, d => cellsOf(d).set(key, 2)), OWNER)).toBeUndefined()
    // both overwrite an entry; the doc has a's
    Y.applyUpdate(doc, changeOf(a, d => cellsOf(d).set(other, 1)))
    const c = replica(), e = replica()
    Y.applyUpdate(doc, changeOf(c, d => cellsOf(d).set(other, 2)))
    expect(quickCheckOf(doc, changeOf(e, d => cellsOf(d).set(other, 3)), OWNER)).toBeUndefined()
    // what it decides, a plain edit on the doc as it stands
    expect(quickCheckOf(doc, changeOf(replica(), d => cellsOf(d).set(other, 4)), OWNER)).toBeNull()
    expect(quickCheckOf(doc, changeOf(replica(), d => insertRows(d, sheet, 1, 1)), OWNER)).toBeUndefined()
    expect(quickCheckOf(doc, changeOf(replica(), d => renameSheet(d, sheet, 'x')), OWNER)).toBeUndefined()
    // an edit on top of one the doc has not received
    const f = replica()
    changeOf(f, d => cellsOf(d).set(key, 5))
    expect(quickCheckOf(doc, (changeOf(f, d => cellsOf(d).set(other, 6))), OWNER)).toBeUndefined()
  })
})

describe('crafted updates the quick check must not wave through', () => {
  /** A V1 update: the client groups of `structs` (an update without deletions) and `extraGroups` (empty), then the delete set `ds`. */
  function spliced(structs: Uint8Array, ds: Uint8Array, extraGroups: [number, number][]): Uint8Array {
    const d = decoding.createDecoder(structs)
    const groups = decoding.readVarUint(d)
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, groups + extraGroups.length)
    encoding.writeUint8Array(e, structs.subarray(d.pos, structs.length - 1)) // without its empty delete set
    for (const [client, clock] of extraGroups) { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, client); encoding.writeVarUint(e, clock) }
    encoding.writeUint8Array(e, ds)
    return encoding.toUint8Array(e)
  }
  /** A delete set of one range. */
  function deleteSet(client: number, clock: number, len: number): Uint8Array {
    const e = encoding.createEncoder()
    for (const n of [1, client, 1, clock, len]) encoding.writeVarUint(e, n)
    return encoding.toUint8Array(e)
  }

  it('a client named twice (Yjs keeps its last group only), and an empty deletion range, go to the full check', () => {
    const { doc, sheet, layout, col } = appraisal()
    const key = `${layout.rows.ids[0]!}:${col('目标值')}`
    const cells = (d: Y.Doc) => sheetParts(sheetsOf(d).get(sheet)!).cells as Y.Map<unknown>
    cells(doc).set(key, 5)
    lockSheet(doc, sheet, '王经理')
    // a rewrite of the locked cell with the same value: one struct, and the deletion of the entry it replaces
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
    const sv = Y.encodeStateVector(client)
    cells(client).set(key, 5)
    const plain = Y.encodeStateAsUpdate(client, sv)
    const { structs } = Y.decodeUpdate(plain)
    expect(structs).toHaveLength(1)
    const replaced = (structs[0] as Y.Item).origin!
    const ds = deleteSet(replaced.client, replaced.clock, 1)
    const structsOnly = cutDeleteSet(plain)
    expect(Y.decodeUpdate(structsOnly).ds.clients.size).toBe(0)
    // the honest update changes nothing: the quick check passes it, as the full one does
    expect(quickCheckOf(doc, plain, editor('小李'))).toBeNull()
    expect(quickCheckOf(doc, spliced(structsOnly, ds, []), editor('小李'))).toBeNull()
    expect(attempt(doc, editor('小李'), d => Y.applyUpdate(d, spliced(structsOnly, ds, [])))).toBeNull()
    // the same struct and an empty second group for its client: Yjs drops the struct and still deletes
    // the entry, which clears a cell of a locked sheet
    const hostile = spliced(structsOnly, ds, [[client.clientID, Y.getState(client.store, client.clientID)]])
    expect(quickCheckOf(doc, hostile, editor('小李'))).toBeUndefined()
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
    Y.applyUpdate(copy, hostile)
    expect(cells(copy).get(key)).toBeUndefined()
    expect(attempt(doc, editor('小李'), d => Y.applyUpdate(d, hostile))).toBe('locked')
    // an empty deletion range (Yjs cannot encode it again)
    expect(quickCheckOf(doc, spliced(structsOnly, deleteSet(replaced.client, 0, 0), []), OWNER)).toBeUndefined()
  })
})

describe('an entry of several values', () => {
  /** A V1 update of one map entry of `client` at `clock`: under `parent` (an item id) and `key`, or after `origin`; `values` as its content; then `ds` (a delete set). */
  function entry(client: number, clock: number, at: { parent: Y.ID; key: string } | { origin: Y.ID }, values: unknown[], ds: Uint8Array): Uint8Array {
    const e = encoding.createEncoder()
    for (const n of [1, 1, client, clock]) encoding.writeVarUint(e, n)
    const CONTENT_ANY = 8
    if ('origin' in at) {
      encoding.writeUint8(e, CONTENT_ANY | 0x80)
      encoding.writeVarUint(e, at.origin.client); encoding.writeVarUint(e, at.origin.clock)
    } else {
      encoding.writeUint8(e, CONTENT_ANY | 0x20)
      encoding.writeVarUint(e, 0) // the parent is an item, by id
      encoding.writeVarUint(e, at.parent.client); encoding.writeVarUint(e, at.parent.clock)
      encoding.writeVarString(e, at.key)
    }
    encoding.writeVarUint(e, values.length)
    for (const v of values) encoding.writeAny(e, v as never)
    encoding.writeUint8Array(e, ds)
    return encoding.toUint8Array(e)
  }

  it('an overwrite whose origin is inside the entry (Yjs splits it, and the overwrite may lose) goes to the full check', () => {
    const { doc, sheet, layout, col } = appraisal()
    const key = `${layout.rows.ids[40]!}:${col('实际值')}`
    const cellsMap = sheetParts(sheetsOf(doc).get(sheet)!).cells as Y.Map<unknown>
    expect(cellsMap.has(key)).toBe(false)
    // someone allowed wrote an entry of two values (it reads as its last one, 5)
    const high = 0x7ffffff0, low = 17
    Y.applyUpdate(doc, entry(high, 0, { parent: cellsMap._item!.id, key }, [1, 5], new Uint8Array([0])))
    expect(cellsMap.get(key)).toBe(5)
    // an editor the column is protected from "rewrites" it with the same 5 after its first value, and deletes it
    const ds = encoding.createEncoder()
    for (const n of [1, high, 1, 0, 2]) encoding.writeVarUint(ds, n)
    const hostile = entry(low, 0, { origin: Y.createID(high, 0) }, [5], encoding.toUint8Array(ds))
    expect(quickCheckOf(doc, hostile, editor('小李'))).toBeUndefined()
    // what it does: the protected cell is cleared, which the full check refuses
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
    Y.applyUpdate(copy, hostile)
    expect(sheetParts(sheetsOf(copy).get(sheet)!).cells.get(key)).toBeUndefined()
    expect(attempt(doc, editor('小李'), d => Y.applyUpdate(d, hostile))).toBe('protected 经理评分')
  })
})

/**
 * A budget sheet whose total B7 = SUM(B2:B6) = 151 is the manager's; the amounts above it are anyone's.
 * Rows are s0r0…s0r11 (B2 is s0r1), columns s0c0…s0c3 (B is s0c1); B9 holds 99, outside the range.
 */
function budget(protections?: Protection[]) {
  const doc = makeDoc([{ name: '预算', id: 's0', rows: 12, cols: 4 }, { name: '汇总', id: 's1', rows: 4, cols: 3 }])
  defineRoots(doc)
  typeIn(doc, 's0', 'A1', '项目'); typeIn(doc, 's0', 'B1', '金额')
  ;[30, 30, 40, 31, 20].forEach((v, i) => typeIn(doc, 's0', `B${i + 2}`, String(v)))
  typeIn(doc, 's0', 'B7', '=SUM(B2:B6)')
  typeIn(doc, 's0', 'B9', '99')
  setProtections(doc, protections ?? [{ id: 'total', sheet: 's0', rows: ['s0r6'], cols: ['s0c1'], names: ['王经理'], label: '合计' }])
  return doc
}
/** Takes a row (or column) id out of the order and puts it back before `beforeId` (at the end when null). */
const moveId = (sid: string, axis: 'rows' | 'cols', id: string, beforeId: string | null) => (d: Y.Doc) => d.transact(() => {
  const order = sheetParts(sheetsOf(d).get(sid)!)[axis]
  order.delete(order.toArray().indexOf(id), 1)
  order.insert(beforeId === null ? order.length : order.toArray().indexOf(beforeId), [id])
})
/** The value of the cell at a visible position, from an engine built from the doc alone. */
const valueAt = (doc: Y.Doc, sid: string, addr: string) => {
  const e = new FormulaEngine(doc)
  const { row, col } = parseA1(addr)!
  try { return e.getValue(sid, row, col) } finally { e.destroy() }
}

describe('the rows a protected formula reads', () => {
  it('an editor cannot move a row out of a protected total\'s range (151 → 121); the manager and the owner can', () => {
    const doc = budget()
    expect(valueAt(doc, 's0', 'B7')).toBe(151)
    const out = moveId('s0', 'rows', 's0r2', 's0r7') // B3 (30) below the total
    expect(refusalOf(doc, editor('小李'), out)).toEqual({ code: 'protected-range-moved', sheet: 's0', cell: 's0r6:s0c1', protection: 'total' })
    expect(attempt(doc, editor('小李'), out)).toBe('protected-range-moved 合计')
    // positive control: those the protection allows may, and the move does change the total
    expect(attempt(doc, editor('王经理'), out)).toBeNull()
    expect(attempt(doc, OWNER, out)).toBeNull()
    out(doc)
    expect(valueAt(doc, 's0', 'B6')).toBe(121)
  })

  it('refuses moving a row into the range from outside, and changing where a deleted end resolves', () => {
    const doc = budget()
    expect(attempt(doc, editor('小李'), moveId('s0', 'rows', 's0r8', 's0r3'))).toBe('protected-range-moved 合计')
    // the range's end row deleted (by the owner): its tombstone says where the end now is; moving it moves the range
    deleteRows(doc, 's0', 5, 1)
    expect(valueAt(doc, 's0', 'B6')).toBe(131)
    const rowsGone = (d: Y.Doc) => sheetParts(sheetsOf(d).get('s0')!).rowsGone
    expect(rowsGone(doc).get('s0r5')).toEqual({ prev: 's0r4', next: 's0r6' })
    expect(attempt(doc, editor('小李'), d => rowsGone(d).set('s0r5', { prev: 's0r2', next: 's0r6' }))).toBe('protected-range-moved 合计')
    expect(attempt(doc, OWNER, d => rowsGone(d).set('s0r5', { prev: 's0r2', next: 's0r6' }))).toBeNull()
  })

  it('allows what keeps the rows it reads: reordering inside the range, inserting rows inside it, deleting rows whose cells one may delete', () => {
    const doc = budget()
    const li = editor('小李')
    expect(attempt(doc, li, moveId('s0', 'rows', 's0r3', 's0r2'))).toBeNull()
    // (moving a row above the range's first row takes it out: the range starts at that row)
    expect(attempt(doc, li, moveId('s0', 'rows', 's0r3', 's0r1'))).toBe('protected-range-moved 合计')
    expect(attempt(doc, li, moveId('s0', 'rows', 's0r9', 's0r11'))).toBeNull() // below the table
    expect(attempt(doc, li, d => insertRows(d, 's0', 3, 2))).toBeNull()
    expect(attempt(doc, li, d => insertRows(d, 's0', 6, 1))).toBeNull() // right above the total: its range grows
    expect(attempt(doc, li, d => deleteRows(d, 's0', 2, 1))).toBeNull()
    expect(attempt(doc, li, d => deleteRows(d, 's0', 1, 5))).toBeNull() // every row it sums
    // but not the total's own row
    expect(attempt(doc, li, d => deleteRows(d, 's0', 6, 1))).toBe('protected 合计')
  })

  it('follows protected formulas on other sheets, in locked sheets, and across columns', () => {
    // a summary sheet, the manager's, sums the budget's amounts
    const doc = budget([{ id: 'sum', sheet: 's1', names: ['王经理'], label: '汇总表' }])
    typeIn(doc, 's1', 'A1', "=SUM('预算'!B2:B6)")
    expect(attempt(doc, editor('小李'), moveId('s0', 'rows', 's0r2', null))).toBe('protected-range-moved 汇总表')
    expect(refusalOf(doc, editor('小李'), moveId('s0', 'rows', 's0r2', null))).toMatchObject({ sheet: 's1', cell: 's1r0:s1c0', protection: 'sum' })
    expect(attempt(doc, editor('王经理'), moveId('s0', 'rows', 's0r2', null))).toBeNull()
    // a signed-off sheet's formulas read what they read when it was signed: nobody moves their rows
    lockSheet(doc, 's1', '王经理')
    expect(attempt(doc, OWNER, moveId('s0', 'rows', 's0r2', null))).toBe('protected-range-moved')
    unlockSheet(doc, 's1')
    // a row total across columns A:C, the manager's: moving column C out of it is refused, D's own move too
    setProtections(doc, [{ id: 'row', sheet: 's0', rows: ['s0r9'], cols: ['s0c3'], names: ['王经理'], label: '行合计' }])
    typeIn(doc, 's0', 'A10', '1'); typeIn(doc, 's0', 'C10', '2'); typeIn(doc, 's0', 'D10', '=SUM(A10:C10)')
    expect(attempt(doc, editor('小李'), moveId('s0', 'cols', 's0c2', null))).toBe('protected-range-moved 行合计')
    expect(attempt(doc, editor('小李'), moveId('s0', 'cols', 's0c3', 's0c0'))).toBeNull() // the total's own column, to the front
    expect(attempt(doc, editor('小李'), d => insertCols(d, 's0', 1, 1))).toBeNull()
    expect(attempt(doc, OWNER, moveId('s0', 'cols', 's0c2', null))).toBeNull()
  })
})

/** `update` with an empty delete set instead of its own (the delete set, encoded again as Yjs does, is its end). */
function cutDeleteSet(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  const { clients } = Y.decodeUpdate(update).ds
  encoding.writeVarUint(e, clients.size)
  for (const [client, ranges] of clients) {
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, ranges.length)
    for (const r of ranges) { encoding.writeVarUint(e, r.clock); encoding.writeVarUint(e, r.len) }
  }
  const ds = encoding.toUint8Array(e)
  const end = update.length - ds.length
  expect([...update.subarray(end)]).toEqual([...ds])
  const out = new Uint8Array(end + 1)
  out.set(update.subarray(0, end))
  return out
}
