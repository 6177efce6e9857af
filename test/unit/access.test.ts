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
  cellRefusal, checkChange, defineRoots, lockSheet, readAccess, setProtections, unlockSheet, type Principal, type Protection,
} from '../../src/core/access/access'
import { editCells, insertRows, deleteRows, setColumnMeta, renameSheet, addSheet, deleteSheet } from '../../src/core/workbook/mutations'
import { sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { inputFromText } from '../../src/core/workbook/input'

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

/** Tries `change` on a copy of `doc` made by `who` and checks it as the server does; the refusal reason or null. */
function attempt(doc: Y.Doc, who: Principal, change: (copy: Y.Doc) => void): string | null {
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
  const sv = Y.encodeStateVector(client)
  change(client)
  const update = Y.encodeStateAsUpdate(client, sv)
  const mirror = new Y.Doc()
  defineRoots(mirror)
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
  let r: { reason: string } | null = null
  mirror.transact(tr => { Y.applyUpdate(mirror, update); r = checkChange(doc, mirror, tr, who) })
  return r === null ? null : (r as { reason: string }).reason
}

const write = (sheet: string, rowId: string, colId: string, text: string) => (d: Y.Doc) =>
  editCells(d, sheet, [{ rowId, colId, value: inputFromText(text, { layout: new WorkbookLayout(d), sheetId: sheet }) }])

describe('protected columns', () => {
  it('refuse a person not named, allow the manager and owners, and leave other columns free', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    expect(attempt(doc, editor('小李'), write(sheet, row, col('实际值'), '99'))).toBe('protected: 经理评分')
    expect(attempt(doc, editor('王经理'), write(sheet, row, col('实际值'), '99'))).toBeNull()
    expect(attempt(doc, OWNER, write(sheet, row, col('实际值'), '99'))).toBeNull()
    expect(attempt(doc, editor('小李'), write(sheet, row, col('目标值'), '120'))).toBeNull()
    // settings of a protected column are protected too
    expect(attempt(doc, editor('小李'), d => setColumnMeta(d, sheet, col('得分'), { title: '随便' }))).toBe('protected: 经理评分')
    expect(attempt(doc, editor('小李'), d => setColumnMeta(d, sheet, col('目标值'), { width: 140 }))).toBeNull()
    // the rules themselves are the owner's
    expect(attempt(doc, editor('王经理'), d => setProtections(d, []))).toBe('only owners may change protections')
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
    expect(attempt(doc, editor('小李'), write(sheet, totals, col('得分'), '100'))).toBe('protected: 经理评分')
    // nor shrinking its range onto a row inserted elsewhere: only growing over rows added at its end passes
    const stored = (sheetParts(sheetsOf(doc).get(sheet)!).cells.get(`${totals}:${col('得分')}`) as { v: string }).v
    const end = layout.rows.ids[totalsAt - 1]!
    expect(stored).toContain(end)
    expect(attempt(doc, editor('小李'), d => {
      const [fresh] = insertRows(d, sheet, 1, 1)
      sheetParts(sheetsOf(d).get(sheet)!).cells.set(`${totals}:${col('得分')}`, { t: 'f', v: stored.split(end).join(fresh!) })
    })).toBe('protected: 经理评分')
  })

  it('refuse deleting a row that holds protected values, and deleting a protected column', () => {
    const { doc, sheet, layout, col } = appraisal()
    expect(attempt(doc, editor('小李'), d => deleteRows(d, sheet, 0, 1))).toBe('protected: 经理评分')
    expect(attempt(doc, editor('王经理'), d => deleteRows(d, sheet, 0, 1))).toBeNull()
    // an empty row far below the table has nothing protected in it
    expect(attempt(doc, editor('小李'), d => deleteRows(d, sheet, 20, 1))).toBeNull()
    const at = layout.cols.ids.indexOf(col('得分'))
    expect(attempt(doc, editor('小李'), d => { const m = sheetParts(sheetsOf(d).get(sheet)!); m.colsGone.set(m.cols.get(at), { prev: null, next: null }) })).toBe('protected: 经理评分')
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
    expect(cellRefusal(readAccess(doc), doc, editor('小张'), sheet, r0!, col('手工得分'))).toBe('protected')
  })
})

describe('sign-off lock', () => {
  it('stops every edit of the sheet, the owner\'s too, until the manager or an owner unlocks it', () => {
    const { doc, sheet, layout, col } = appraisal()
    const row = layout.rows.ids[0]!
    expect(attempt(doc, editor('小李'), d => lockSheet(d, sheet, '小李'))).toMatch(/only owners and the managers/)
    // a sign-off carries the signer's own name
    expect(attempt(doc, editor('王经理'), d => lockSheet(d, sheet, '李总'))).toBe('a lock is signed with your own name')
    lockSheet(doc, sheet, '王经理')
    for (const who of [editor('小李'), editor('王经理'), OWNER]) {
      expect(attempt(doc, who, write(sheet, row, col('目标值'), '1'))).toBe('sheet is locked')
    }
    expect(attempt(doc, OWNER, d => renameSheet(d, sheet, '考核2026'))).toBe('sheet is locked')
    expect(attempt(doc, OWNER, d => insertRows(d, sheet, 0, 1))).toBe('sheet is locked')
    expect(attempt(doc, editor('小李'), d => deleteSheet(d, sheet))).toBe('sheet is locked')
    // other sheets stay open
    const rules = sheetIds(doc)[1]!
    const rl = new WorkbookLayout(doc).sheet(rules)!
    expect(attempt(doc, editor('小李'), write(rules, rl.rows.ids[20]!, rl.cols.ids[0]!, 'x'))).toBeNull()
    expect(attempt(doc, editor('小李'), d => addSheet(d, { name: '新表', rows: 3, cols: 3 }))).toBeNull()
    expect(attempt(doc, editor('小李'), d => unlockSheet(d, sheet))).toMatch(/only owners and the managers/)
    expect(attempt(doc, editor('王经理'), d => unlockSheet(d, sheet))).toBeNull()
    unlockSheet(doc, sheet)
    expect(attempt(doc, editor('小李'), write(sheet, row, col('目标值'), '1'))).toBeNull()
  })
})

describe('what is not a workbook', () => {
  it('refuses root types the app never writes, and viewers always', () => {
    const { doc } = appraisal()
    expect(attempt(doc, editor('小李'), d => d.getMap('evil').set('x', 1))).toBe('not part of a workbook')
    expect(attempt(doc, { role: 'viewer', name: 'v' }, d => d.getMap('meta').set('title', 'x'))).toBe('read-only link')
    expect(attempt(doc, editor('小李'), d => d.getMap('meta').set('title', '新标题'))).toBeNull()
  })
})
