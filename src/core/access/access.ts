/**
 * Who may change what in a workbook. No Vue imports: the server enforces these rules on every update
 * it receives, and the grid uses the same functions to show protected cells as read-only.
 *
 *   model.ts        roles, principals, protections and locks, read from the doc (untrusted JSON)
 *   rules.ts        the pure rules: may this person edit this cell, this sheet, this column, lock it?
 *   refusal.ts      why not, as a code (and the protection), the close reason the client reads back
 *   checkChange.ts  the server's full check of a change, one checker per place a change can touch
 *   cells.ts        the decision about one cell write, shared by the full check and the quick one
 *   ranges.ts       rows or columns moved into or out of a protected formula's ranges
 *   quick.ts        the quick check of updates that only set or clear cells
 *
 * This module gathers them, so callers import from one place.
 */
export * from './refusal'
export * from './model'
export * from './rules'
export { defineRoots, isCellInput, isSheetShape } from './shape'
export { cellWriteRefusal } from './cells'
export { checkChange } from './checkChange'
export { commentsRefusal, plannedChange, appliedChange, type CommentChange } from './comments'
export { rowGoneRefusal } from './context'
export { quickCellCheck, type DecodedStructs } from './quick'
