/**
 * After a refused change the workbook opens afresh; what else the person changed is carried over:
 * their cell edits the server never saw, where they may edit — never someone else's newer value.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { carryOver } from '../../src/sync/carry'
import { defineRoots, setProtections } from '../../src/core/access/access'
import { insertRows } from '../../src/core/workbook/mutations'
import { makeDoc, textAt, type } from '../helpers/workbook'

describe('carrying unsent edits into a fresh replica', () => {
  it('keeps allowed cell edits, skips protected cells and rows the server lacks, and leaves others\' newer values', () => {
    const server = makeDoc([{ name: 'Plan', id: 's0', rows: 6, cols: 4 }], 1)
    defineRoots(server)
    type(server, 's0', 'B1', 'base')
    setProtections(server, [{ id: 'p', sheet: 's0', cols: ['s0c2'], names: ['王经理'] }])
    // my replica, offline: it edits A1 and B2, the protected C1, and a row it inserted
    const mine = new Y.Doc(); mine.clientID = 7
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(server))
    type(mine, 's0', 'A1', 'mine, kept')
    type(mine, 's0', 'B2', '=A1&"!"')
    type(mine, 's0', 'C1', 'protected, refused')
    insertRows(mine, 's0', 0, 1, null, ['rnewmine'])
    type(mine, 's0', 'A1', 'in my new row')
    // meanwhile a colleague changes B1 on the server
    type(server, 's0', 'B1', 'colleague, newer')
    // the fresh replica is the server's state
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, Y.encodeStateAsUpdate(server))
    const origin = { who: 'me' }
    const r = carryOver(Y.encodeStateAsUpdate(mine), fresh, { role: 'editor', name: '小李' }, origin)
    expect(r).toEqual({ carried: 2, refused: 1, dropped: 1 })
    expect(textAt(fresh, 's0', 'A1')).toBe('mine, kept')
    expect(textAt(fresh, 's0', 'B2')).toBe('=A1&"!"')
    expect(textAt(fresh, 's0', 'C1')).toBe('')
    expect(textAt(fresh, 's0', 'B1')).toBe('colleague, newer')
    // nothing unsent: nothing to carry
    expect(carryOver(Y.encodeStateAsUpdate(server), fresh, { role: 'editor', name: '小李' }, origin)).toEqual({ carried: 0, refused: 0, dropped: 0 })
  })
})
