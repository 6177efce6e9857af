/** What an .xlsx import reads out of a file (plain data, passed from the parsing worker). */
import type { DefinedName } from './names'
import type { CellStyle } from '../../src/core/workbook/styles'

export interface ImportedCell {
  /** zero-based row and column */
  r: number
  c: number
  /** a value, or the cached result of a formula */
  v?: number | string | boolean
  /** a date, yyyy-mm-dd */
  d?: string
  /** a formula's A1 text without '=' */
  f?: string
  /** an error value such as #REF! */
  err?: string
  /** number format */
  fmt?: string
  bold?: boolean
  /** the cell's font, fill and alignment, as the workbook keeps them */
  look?: CellStyle
}

export interface ImportedSheet {
  name: string
  rows: number
  cols: number
  cells: ImportedCell[]
  /** Excel column widths (characters), by column */
  widths: (number | null)[]
  frozenRows: number
  frozenCols: number
  /** merged ranges (A1:B2) */
  merges: string[]
  /** zero-based rows and columns hidden */
  hiddenRows: number[]
  hiddenCols: number[]
  /** dropdown lists found on a column's cells */
  lists: { c: number; options: string[] }[]
  /** what the sheet had that a workbook cannot carry */
  notes: string[]
}

export interface ImportedWorkbook {
  title: string
  sheets: ImportedSheet[]
  /** the file's defined names (xl/workbook.xml) */
  names?: DefinedName[]
  /** what reading the file left out as a whole (a part the reader could not take) */
  notes?: string[]
}

export interface ReadLimits { maxSheets: number; maxCells: number; maxRows: number; maxCols: number }
