import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { addSheet, deleteRows, insertRows, renameSheet } from '../../src/core/workbook/mutations'
import { sheetIds, sheetName } from '../../src/core/workbook/schema'
import { personalUndo, type UndoPlace } from '../../src/sync/undo'
import { peerBox, peersOf, readPeer } from '../../src/sync/presence'
import { cleanName, initials, loadIdentity, PRESENCE_COLORS } from '../../src/sync/identity'
import { layoutOf, makeDoc, pair, textAt, type } from '../helpers/workbook'

function twoPeople() {
  const a = makeDoc([{ name: 'One', id: 's0', rows: 6, cols: 4 }, { name: 'Two', id: 's1', rows: 6, cols: 4 }], 1)
  const b = new Y.Doc(); b.clientID = 2
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
  return { a, b, link: pair(a, b) }
}

describe('per-person undo', () => {
  it('undoes my steps only — cells, rows, sheets — across sheets, and says where each was made', () => {
    const { a, b, link } = twoPeople()
    const me = { who: 'A' }, them = { who: 'B' }
    let here: UndoPlace = { sheet: 's0', rowId: 's0r0', colId: 's0c0' }
    const undoA = personalUndo(a, me, () => here)
    personalUndo(b, them)

    type(a, 's0', 'A1', 'mine', me)
    undoA.newStep()
    type(b, 's0', 'B1', 'theirs', them)
    link.exchange()
    here = { sheet: 's1', rowId: 's1r2', colId: 's1c1' }
    insertRows(a, 's1', 0, 2, me)
    undoA.newStep()
    here = { sheet: 's1' }
    const added = addSheet(a, { name: '新表', rows: 3, cols: 3 }, me)
    undoA.newStep()
    // B writes in the rows A inserted, and renames A's sheet's neighbour
    link.exchange()
    type(b, 's1', 'D1', 'B in new row', them)
    renameSheet(b, 's0', 'Eins', them)
    link.exchange()
    expect(sheetIds(a)).toContain(added)

    expect(undoA.undo()).toEqual({ sheet: 's1' })
    link.exchange()
    expect(sheetIds(b)).not.toContain(added)
    expect(undoA.undo()).toEqual({ sheet: 's1', rowId: 's1r2', colId: 's1c1' })
    link.exchange()
    for (const d of [a, b]) expect(layoutOf(d).sheet('s1')!.rows.length).toBe(6)
    expect(undoA.undo()).toEqual({ sheet: 's0', rowId: 's0r0', colId: 's0c0' })
    link.exchange()
    for (const d of [a, b]) {
      expect(textAt(d, 's0', 'A1')).toBe('')
      expect(textAt(d, 's0', 'B1')).toBe('theirs')
      expect(sheetName(d, 's0')).toBe('Eins')
    }
    expect(undoA.manager.canUndo()).toBe(false)
    // redo brings my edit back, in the same place
    expect(undoA.redo()).toEqual({ sheet: 's0', rowId: 's0r0', colId: 's0c0' })
    link.exchange()
    expect(textAt(b, 's0', 'A1')).toBe('mine')
  })

  it('a colleague\'s edit is never undone, even in a cell I edited before', () => {
    const { a, b, link } = twoPeople()
    const me = {}
    const undoA = personalUndo(a, me)
    type(a, 's0', 'C3', '1', me)
    link.exchange()
    type(b, 's0', 'C3', '2', 'B')
    link.exchange()
    undoA.undo()
    link.exchange()
    // my change was overwritten by B's: there is nothing of mine left to take back there
    for (const d of [a, b]) expect(textAt(d, 's0', 'C3')).toBe('2')
  })
})

describe('presence states from other clients are checked', () => {
  const good = { user: { name: '  韩梅梅 ', color: '#1a73e8' }, cursor: { sheet: 's0', anchor: { row: 'r1', col: 'c1' }, head: { row: 'r2', col: 'c2' } } }

  it('reads a valid state, trims the name and keeps HTML as plain text', () => {
    expect(readPeer(7, good)).toEqual({ clientId: 7, name: '韩梅梅', color: '#1a73e8', cursor: good.cursor })
    expect(readPeer(7, { ...good, user: { name: '<img src=x onerror=alert(1)>', color: '#000000' } })?.name).toBe('<img src=x onerror=alert(1)>')
    expect(readPeer(7, { ...good, user: { name: 'x'.repeat(500), color: '#000000' } })?.name).toHaveLength(40)
  })

  it('drops junk: no user, bad colours (CSS injection), bad ids; a bad cursor is just no cursor', () => {
    for (const bad of [null, 1, 'x', {}, { user: null }, { user: { name: '', color: '#000000' } }, { user: { name: 'a', color: 'red;background:url(x)' } }, { user: { name: 7, color: '#000000' } }]) {
      expect(readPeer(1, bad)).toBeNull()
    }
    for (const cursor of [{ sheet: 's0' }, { sheet: '"><b', anchor: { row: 'r', col: 'c' }, head: { row: 'r', col: 'c' } }, { sheet: 's0', anchor: { row: 1, col: 'c' }, head: { row: 'r', col: 'c' } }]) {
      expect(readPeer(1, { ...good, cursor })?.cursor).toBeNull()
    }
  })

  it('lists everyone but me, in a stable order', () => {
    const states = new Map<number, unknown>([[9, good], [3, good], [5, { junk: true }], [4, good]])
    expect(peersOf(states, 4).map(p => p.clientId)).toEqual([3, 9])
  })

  it('an outline stays on the same cells when rows are inserted above, and shrinks when a corner is deleted', () => {
    const doc = makeDoc([{ name: 'One', id: 's0', rows: 6, cols: 4 }])
    const peer = readPeer(2, { user: { name: 'B', color: '#188038' }, cursor: { sheet: 's0', anchor: { row: 's0r1', col: 's0c1' }, head: { row: 's0r3', col: 's0c2' } } })!
    const box = () => {
      const sl = layoutOf(doc).sheet('s0')!
      return peerBox(peer, 's0', id => sl.rows.indexOf(id), id => sl.cols.indexOf(id))
    }
    expect(box()).toMatchObject({ r1: 1, r2: 3, c1: 1, c2: 2, tagRow: 1, tagCol: 1 })
    insertRows(doc, 's0', 0, 2)
    expect(box()).toMatchObject({ r1: 3, r2: 5, c1: 1, c2: 2, tagRow: 3, tagCol: 1 })
    deleteRows(doc, 's0', 3, 1) // the anchor's row
    expect(box()).toMatchObject({ r1: 4, r2: 4, c1: 2, c2: 2, tagRow: 4, tagCol: 2 })
    expect(peerBox(peer, 'other-sheet', () => 0, () => 0)).toBeNull()
  })
})

describe('identity', () => {
  it('cleans names and makes initials for avatars', () => {
    expect(cleanName('  Li\u0000 Lei\n ')).toBe('Li Lei')
    expect(cleanName(42)).toBe('')
    expect(initials('Li Lei')).toBe('LL')
    expect(initials('韩梅梅')).toBe('梅梅')
    expect(initials('ann')).toBe('AN')
    expect(initials('   ')).toBe('?')
  })

  it('without stored settings, gives a default name and one of the palette colours', () => {
    let i = 0
    const seq = [0.25, 0.5]
    const id = loadIdentity(n => `访客 ${n}`, () => seq[i++ % 2]!)
    expect(PRESENCE_COLORS).toContain(id.color)
    expect(id.name).toBe('访客 550')
  })
})
