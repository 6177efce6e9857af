/** xlsx-populate (MIT) ships no types: the few calls the tests make of it. */
declare module 'xlsx-populate' {
  interface Cell { value(v: unknown): Cell; formula(f: string): Cell; style(name: string, v: unknown): Cell }
  interface Range { value(v: unknown[][]): Range }
  interface Sheet { name(n: string): Sheet; cell(a1: string): Cell; range(a1: string): Range }
  interface Workbook {
    sheet(i: number | string): Sheet
    addSheet(name: string): Sheet
    definedName(name: string, refersTo: unknown): Workbook
    outputAsync(opts?: { password?: string }): Promise<Buffer>
  }
  const XlsxPopulate: { fromBlankAsync(): Promise<Workbook> }
  export default XlsxPopulate
}
