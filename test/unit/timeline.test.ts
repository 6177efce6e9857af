/**
 * The timeline of the activity-progress template: tasks in the seed's stage order with their dates,
 * overdue against a given day, moving a task's dates (one personal undo step), and the columns found by
 * key in either language and by type where a sheet has no keys.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook, type Locale } from '../../src/core/templates/template'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { cellKey, sheetIds, sheetKey, sheetParts, sheetsOf, type CellInput } from '../../src/core/workbook/schema'
import { addSheet, setCells } from '../../src/core/workbook/mutations'
import { personalUndo } from '../../src/sync/undo'
import { reviewData } from '../../server/export/review'
import zhCN from '../../src/locales/zh-CN.json'
import en from '../../src/locales/en.json'
import { addDays, canTimeline, moveTask, onDay, timelineColumns, timelineOf, TimelineError } from '../../src/core/timeline/timeline'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))

function progressWorkbook(locale: Locale = 'zh-CN', template = 'activity-progress') {
  const doc = new Y.Doc()
  buildWorkbook(doc, registry.get(template)!, { locale })
  const engine = new FormulaEngine(doc)
  const sheetId = sheetIds(doc).find(id => sheetKey(doc, id) === 'activities')!
  expect(sheetId).toBeTruthy()
  return { doc, engine, sheetId }
}

const stored = (doc: Y.Doc, sheetId: string, rowId: string, colId: string): CellInput | undefined =>
  sheetParts(sheetsOf(doc).get(sheetId)!).cells.get(cellKey(rowId, colId))

const SEED = [
  ['策划阶段', '活动方案确定', '2024-05-01', '2024-05-10', '已完成', 1, 'done'],
  ['准备阶段', '页面上线、物料设计、库存备货', '2024-05-11', '2024-05-25', '已完成', 1, 'done'],
  ['执行阶段', '活动上线、实时监控、问题处理', '2024-05-26', '2024-06-18', '进行中', 0.6, 'active'],
  ['复盘阶段', '数据分析、报告撰写、经验总结', '2024-06-19', '2024-06-30', '未开始', 0, 'todo'],
] as const

describe('the timeline of a campaign progress sheet', () => {
  it('lists the 618 stages in the seed order, with their dates, owners, status and progress', () => {
    const { doc, engine, sheetId } = progressWorkbook()
    expect(canTimeline(doc, sheetId)).toBe(true)
    const tl = timelineOf(doc, engine, sheetId, '2024-05-01')!
    expect(tl.tasks.map(t => [t.phase, t.task, t.start, t.end, t.status, t.progress, t.state]))
      .toEqual(SEED.map(r => [...r]))
    expect(tl.groups.map(g => g.phase)).toEqual(['策划阶段', '准备阶段', '执行阶段', '复盘阶段'])
    expect(tl.tasks[0]!.owner).toBe('活动策划')
    expect(tl.span).toEqual({ start: '2024-05-01', end: '2024-06-30' })
    // the 46 empty rows below the seed are no tasks
    expect(tl.tasks).toHaveLength(4)
  })

  it('marks unfinished tasks whose end is before the given day as overdue, never done ones', () => {
    const { doc, engine, sheetId } = progressWorkbook()
    const overdue = (today: string) => timelineOf(doc, engine, sheetId, today)!.tasks.filter(t => t.overdue).map(t => t.phase)
    expect(overdue('2024-05-01')).toEqual([])
    // 策划 and 准备 ended long ago but are done; 执行 ends on 06-18: due that day, overdue the day after
    expect(overdue('2024-06-18')).toEqual([])
    expect(overdue('2024-06-19')).toEqual(['执行阶段'])
    expect(overdue('2024-07-01')).toEqual(['执行阶段', '复盘阶段'])
    const tl = timelineOf(doc, engine, sheetId, '2024-05-01')!
    expect(onDay(tl, '2024-07-01').tasks.filter(t => t.overdue).map(t => t.phase)).toEqual(['执行阶段', '复盘阶段'])
    expect(onDay(tl, '2024-07-01').groups[2]!.tasks[0]!.overdue).toBe(true)
  })

  it('counts a task at 100 % as done whatever its status says, and a done status whatever its progress', () => {
    const { doc, engine, sheetId } = progressWorkbook()
    const cols = timelineColumns(doc, sheetId)!
    const rows = timelineOf(doc, engine, sheetId, '2024-05-01')!.tasks.map(t => t.rowId)
    setCells(doc, sheetId, [
      { rowId: rows[2]!, colId: cols.progress!, value: 1 },
      { rowId: rows[3]!, colId: cols.status!, value: '已完成' },
    ])
    const tl = timelineOf(doc, engine, sheetId, '2024-12-31')!
    expect(tl.tasks.map(t => t.state)).toEqual(['done', 'done', 'done', 'done'])
    expect(tl.tasks.some(t => t.overdue)).toBe(false)
  })

  it('moves a task: new dates in the doc as date inputs, in one step that a personal undo takes back', () => {
    const { doc, engine, sheetId } = progressWorkbook()
    const origin = { who: 'me' }
    const undo = personalUndo(doc, origin)
    const cols = timelineColumns(doc, sheetId)!
    const row = timelineOf(doc, engine, sheetId, '2024-05-01')!.tasks[2]!.rowId
    moveTask(doc, sheetId, row, { start: addDays('2024-05-26', 3), end: addDays('2024-06-18', 3) }, origin)
    expect(stored(doc, sheetId, row, cols.start)).toEqual({ t: 'd', v: '2024-05-29' })
    expect(stored(doc, sheetId, row, cols.end)).toEqual({ t: 'd', v: '2024-06-21' })
    const moved = timelineOf(doc, engine, sheetId, '2024-05-01')!
    expect([moved.tasks[2]!.start, moved.tasks[2]!.end]).toEqual(['2024-05-29', '2024-06-21'])
    // the calculated duration follows the dates (end − start + 1)
    const durationCol = [...sheetParts(sheetsOf(doc).get(sheetId)!).colMeta.entries()].find(([, m]) => m.key === 'duration')![0]
    expect(engine.getValueById(sheetId, row, durationCol)).toBe(24)
    // only the end
    undo.newStep()
    moveTask(doc, sheetId, row, { end: '2024-06-25' }, origin)
    expect(stored(doc, sheetId, row, cols.start)).toEqual({ t: 'd', v: '2024-05-29' })
    expect(stored(doc, sheetId, row, cols.end)).toEqual({ t: 'd', v: '2024-06-25' })
    undo.undo()
    expect(stored(doc, sheetId, row, cols.end)).toEqual({ t: 'd', v: '2024-06-21' })
    undo.undo()
    expect(stored(doc, sheetId, row, cols.start)).toEqual({ t: 'd', v: '2024-05-26' })
    expect(stored(doc, sheetId, row, cols.end)).toEqual({ t: 'd', v: '2024-06-18' })
    expect(timelineOf(doc, engine, sheetId, '2024-05-01')!.tasks[2]!.start).toBe('2024-05-26')
    undo.destroy()
  })

  it('refuses an end before the start, and anything that is not a date, changing nothing', () => {
    const { doc, engine, sheetId } = progressWorkbook()
    const cols = timelineColumns(doc, sheetId)!
    const row = timelineOf(doc, engine, sheetId, '2024-05-01')!.tasks[0]!.rowId
    const before = Y.encodeStateVector(doc)
    const code = (fn: () => void) => { try { fn(); return 'none' } catch (e) { expect(e).toBeInstanceOf(TimelineError); return (e as TimelineError).code } }
    expect(code(() => moveTask(doc, sheetId, row, { start: '2024-05-10', end: '2024-05-09' }))).toBe('end-before-start')
    // against the end the sheet holds (05-10)
    expect(code(() => moveTask(doc, sheetId, row, { start: '2024-05-11' }))).toBe('end-before-start')
    expect(code(() => moveTask(doc, sheetId, row, { end: '2024-04-30' }))).toBe('end-before-start')
    expect(code(() => moveTask(doc, sheetId, row, { end: '2024-02-30' }))).toBe('bad-date')
    expect(code(() => moveTask(doc, sheetId, 'no-such-row', { end: '2024-05-12' }))).toBe('unknown-row')
    expect(Y.encodeStateVector(doc)).toEqual(before)
    expect(stored(doc, sheetId, row, cols.end)).toEqual({ t: 'd', v: '2024-05-10' })
    // a one-day task is fine
    moveTask(doc, sheetId, row, { start: '2024-05-10' })
    expect(stored(doc, sheetId, row, cols.start)).toEqual({ t: 'd', v: '2024-05-10' })
  })

  it('works the same in a workbook built in English, and inside the operations plan', () => {
    const { doc, engine, sheetId } = progressWorkbook('en')
    const tl = timelineOf(doc, engine, sheetId, '2024-06-19')!
    expect(tl.groups.map(g => g.phase)).toEqual(['Planning', 'Preparation', 'Execution', 'Review'])
    expect(tl.tasks.map(t => [t.start, t.end])).toEqual(SEED.map(r => [r[2], r[3]]))
    expect(tl.tasks.map(t => t.state)).toEqual(['done', 'done', 'active', 'todo'])
    expect(tl.tasks.map(t => t.status)).toEqual(['Done', 'Done', 'In progress', 'Not started'])
    expect(tl.tasks.filter(t => t.overdue).map(t => t.phase)).toEqual(['Execution'])
    moveTask(doc, sheetId, tl.tasks[3]!.rowId, { start: '2024-06-20', end: '2024-07-01' })
    expect(timelineOf(doc, engine, sheetId, '2024-06-19')!.span).toEqual({ start: '2024-05-01', end: '2024-07-01' })

    const ops = progressWorkbook('zh-CN', 'operations-plan')
    expect(timelineOf(ops.doc, ops.engine, ops.sheetId, '2024-05-01')!.groups.map(g => g.phase)).toEqual(['策划阶段', '准备阶段', '执行阶段', '复盘阶段'])
    // the other sheets of the plan have no dates: no timeline there
    expect(sheetIds(ops.doc).filter(id => canTimeline(ops.doc, id))).toEqual([ops.sheetId])
  })

  it('finds the columns by type on a sheet without keys, and is no timeline without two date columns', () => {
    const doc = new Y.Doc()
    const sheetId = addSheet(doc, {
      name: '计划', rows: 5, cols: 5,
      columns: [{ title: '任务', type: 'text' }, { title: '开始', type: 'date' }, { title: '负责人', type: 'person' }, { title: '结束', type: 'date' }, { title: '完成度', type: 'percent' }],
    })
    const other = addSheet(doc, { name: '只有一个日期', rows: 2, cols: 2, columns: [{ type: 'text' }, { type: 'date' }] })
    // a blank sheet whose columns C and D were made dates: A and B, of no type, are the phase and the task
    const blank = addSheet(doc, { name: '空白', rows: 2, cols: 4, columns: [{}, {}, { type: 'date' }, { type: 'date' }] })
    const engine = new FormulaEngine(doc)
    const sl = engine.layout.sheet(sheetId)!
    const [c0, c1, c2, c3, c4] = sl.cols.ids
    const [r0, r1, r2, r3] = sl.rows.ids
    setCells(doc, sheetId, [
      { rowId: r0!, colId: c0!, value: '选品' }, { rowId: r0!, colId: c1!, value: { t: 'd', v: '2024-03-01' } }, { rowId: r0!, colId: c3!, value: { t: 'd', v: '2024-03-05' } }, { rowId: r0!, colId: c4!, value: 0.5 },
      // no dates: no task
      { rowId: r1!, colId: c2!, value: '老李' },
      // only an end: a one-day bar; the blank phase cell continues the one above
      { rowId: r2!, colId: c3!, value: { t: 'd', v: '2024-03-08' } }, { rowId: r2!, colId: c2!, value: '小王' },
      { rowId: r3!, colId: c0!, value: '上架' }, { rowId: r3!, colId: c1!, value: { t: 'd', v: '2024-03-09' } },
    ])
    expect(timelineColumns(doc, sheetId)).toEqual({ phase: c0, start: c1, owner: c2, end: c3, progress: c4 })
    const tl = timelineOf(doc, engine, sheetId, '2024-03-07')!
    expect(tl.tasks.map(t => [t.phase, t.from, t.to, t.owner, t.state, t.overdue])).toEqual([
      ['选品', '2024-03-01', '2024-03-05', '', 'active', true],
      ['选品', '2024-03-08', '2024-03-08', '小王', 'todo', false],
      ['上架', '2024-03-09', '2024-03-09', '', 'todo', false],
    ])
    expect(tl.groups.map(g => [g.phase, g.tasks.length])).toEqual([['选品', 2], ['上架', 1]])
    const bl = engine.layout.sheet(blank)!.cols.ids
    expect(timelineColumns(doc, blank)).toEqual({ phase: bl[0], task: bl[1], start: bl[2], end: bl[3] })
    expect(canTimeline(doc, other)).toBe(false)
    expect(timelineOf(doc, engine, other, '2024-03-07')).toBeNull()
    expect(() => moveTask(doc, other, engine.layout.sheet(other)!.rows.ids[0]!, { end: '2024-03-08' })).toThrow(TimelineError)
  })

  it('goes into the review pack with the progress sheet only', () => {
    const { doc, sheetId } = progressWorkbook('zh-CN', 'operations-plan')
    const pack = reviewData(doc)
    expect(pack.sheets.filter(s => s.timeline).map(s => s.id)).toEqual([sheetId])
    expect(pack.sheets.find(s => s.id === sheetId)!.timeline!.groups.map(g => g.phase)).toEqual(['策划阶段', '准备阶段', '执行阶段', '复盘阶段'])
  })

  it('speaks both languages: the same timeline keys in zh-CN and en, none empty', () => {
    const keys = (o: unknown, at = ''): string[] => typeof o === 'object' && o
      ? Object.entries(o).flatMap(([k, v]) => keys(v, at ? `${at}.${k}` : k))
      : [typeof o === 'string' && o.trim() ? at : `${at} (empty)`]
    expect(keys(zhCN.timeline)).toEqual(keys(en.timeline))
    expect(keys(zhCN.timeline).filter(k => k.endsWith('(empty)'))).toEqual([])
    for (const code of ['not-a-timeline', 'unknown-row', 'bad-date', 'end-before-start'] satisfies TimelineError['code'][]) expect(zhCN.timeline.errors[code]).toBeTruthy()
  })
})
