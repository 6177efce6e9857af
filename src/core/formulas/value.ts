/** A computed value as the app reads it from the formula engine: an error as its code and message. */
export type CellValue = number | string | boolean | null | { error: string; message?: string }
