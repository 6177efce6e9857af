/**
 * The pure parts of history: the retention policy (which automatic versions go, named ones never) and
 * restore plans (what a person may not edit is skipped and named; rows deleted since come back, rows
 * added since go; one undo step).
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { thinned } from '../../server/store/history'
import { chain, entryHash, GENESIS_HASH, type AuditInput } from '../../server/store/history'
import { applyRestore, planRestore } from '../../src/core/history/restore'
import { lockSheet, setProtections } from '../../src/core/access/access'
import { deleteRows, insertRows } from '../../src/core/workbook/mutations'
import { sheetsOf, visibleRowIds } from '../../src/core/workbook/schema'
import { makeDoc, textAt, type } from '../helpers/workbook'

const H = 3_600_000, D = 24 * H
const policy = { hourlyAfterMs: 7 * D, dailyAfterMs: 30 * D }

describe('retention', () => {
  it('keeps recent automatic versions, one an hour after a week, one a day after a month, and every named one', () => {
    const now = 100 * D
    const v = (id: string, at: number, auto = true) => ({ id, at, auto })
    const versions = [
      v('recent1', now - H), v('recent2', now - H + 60_000),
      v('week-a', now - 8 * D), v('week-b', now - 8 * D + 60_000), v('week-c', now - 8 * D + 2 * H),
      v('month-a', now - 40 * D), v('month-b', now - 40 * D + 5 * H), v('named-old', now - 40 * D + H, false),
    ]
    const gone = thinned(versions, now, policy)
    expect(gone.sort()).toEqual(['month-a', 'week-a'])
  })
})

describe('audit chain', () => {
  it('links each entry to the one before, so a changed field changes every hash after it', () => {
    const e = (cell: string): AuditInput => ({ at: 1, linkId: 'l', by: '小李', role: 'editor', action: 'edit', sheet: 's', cell, rowId: 'r', colId: 'c', before: null, after: 1, detail: null })
    const stored = chain(null, [e('A1'), e('A2')])
    expect(stored[0]!.prevHash).toBe(GENESIS_HASH)
    expect(stored[1]!.prevHash).toBe(stored[0]!.hash)
    expect(entryHash(stored[0]!.prevHash, { ...stored[0]!, after: 2 })).not.toBe(stored[0]!.hash)
    const more = chain(stored[1]!, [e('A3')])
    expect(more[0]).toMatchObject({ n: 3, prevHash: stored[1]!.hash })
  })
})

describe('restore plans', () => {
  const editor = { role: 'editor' as const, name: '小李' }
  const setup = () => {
    const doc = makeDoc([{ name: 'Plan', id: 's1', rows: 6, cols: 3 }])
    type(doc, 's1', 'A1', '1'); type(doc, 's1', 'B1', '2'); type(doc, 's1', 'A2', '3')
    const version = new Y.Doc()
    Y.applyUpdate(version, Y.encodeStateAsUpdate(doc))
    return { doc, version }
  }

  it('writes the version back as one undo step, skipping protected cells and naming them', () => {
    const { doc, version } = setup()
    type(doc, 's1', 'A1', '10'); type(doc, 's1', 'B1', '20'); type(doc, 's1', 'C3', 'new')
    const rows = visibleRowIds(sheetsOf(doc).get('s1')!)
    const cols = [...(sheetsOf(doc).get('s1')!.get('cols') as Y.Array<string>).toArray()]
    setProtections(doc, [{ id: 'p', sheet: 's1', rows: [rows[0]!], cols: [cols[1]!] }])
    const plan = planRestore(doc, version, editor)
    expect(plan.skipped).toEqual([{ sheetId: 's1', rowId: rows[0], colId: cols[1], code: 'protected' }])
    const origin = { me: true }
    const undo = new Y.UndoManager(sheetsOf(doc), { trackedOrigins: new Set([origin]) })
    applyRestore(doc, plan, origin)
    expect([textAt(doc, 's1', 'A1'), textAt(doc, 's1', 'B1'), textAt(doc, 's1', 'C3')]).toEqual(['1', '20', ''])
    undo.undo()
    expect([textAt(doc, 's1', 'A1'), textAt(doc, 's1', 'C3')]).toEqual(['10', 'new'])
  })

  it('brings deleted rows back and removes rows added since; a locked sheet is skipped whole', () => {
    const { doc, version } = setup()
    deleteRows(doc, 's1', 1, 1)
    insertRows(doc, 's1', 0, 1)
    type(doc, 's1', 'A1', 'inserted')
    const plan = planRestore(doc, version, editor)
    applyRestore(doc, plan, null)
    expect([textAt(doc, 's1', 'A1'), textAt(doc, 's1', 'A2')]).toEqual(['1', '3'])

    const locked = setup()
    type(locked.doc, 's1', 'A1', '99')
    lockSheet(locked.doc, 's1', '王经理')
    const refused = planRestore(locked.doc, locked.version, editor)
    expect(refused.sheets).toEqual([])
    expect(refused.skipped.every(s => s.code === 'locked')).toBe(true)
  })

  it('restores one sheet only when asked for one', () => {
    const doc = makeDoc([{ name: 'Plan', id: 's1', rows: 3, cols: 2 }, { name: 'Actual', id: 's2', rows: 3, cols: 2 }])
    type(doc, 's1', 'A1', '1'); type(doc, 's2', 'A1', '2')
    const version = new Y.Doc()
    Y.applyUpdate(version, Y.encodeStateAsUpdate(doc))
    type(doc, 's1', 'A1', '10'); type(doc, 's2', 'A1', '20')
    applyRestore(doc, planRestore(doc, version, editor, { sheetId: 's1' }), null)
    expect([textAt(doc, 's1', 'A1'), textAt(doc, 's2', 'A1')]).toEqual(['1', '20'])
  })

  it('restores one cell only when asked for one', () => {
    const { doc, version } = setup()
    type(doc, 's1', 'A1', '10'); type(doc, 's1', 'B1', '20')
    const sheet = sheetsOf(doc).get('s1')!
    const rowId = visibleRowIds(sheet)[0]!
    const colId = (sheet.get('cols') as Y.Array<string>).get(0)
    applyRestore(doc, planRestore(doc, version, editor, { sheetId: 's1', rowId, colId }), null)
    expect([textAt(doc, 's1', 'A1'), textAt(doc, 's1', 'B1')]).toEqual(['1', '20'])
  })
})
