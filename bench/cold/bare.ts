// The bare page of the cold-open benchmark: Handsontable (base build) + HyperFormula on the same data,
// fetched as a JSON grid; nothing else (no sync, no formats, no access rules).
import Handsontable from 'handsontable/base'
import { HyperFormula } from 'hyperformula'

const data = (await (await fetch('/data.json')).json()) as (string | number)[][]
const hf = HyperFormula.buildFromArray(data, { licenseKey: 'gpl-v3', maxRows: 200_000 })
new Handsontable(document.getElementById('grid')!, {
  data: data.map(r => r.map(v => String(v))),
  licenseKey: 'non-commercial-and-evaluation',
  themeName: 'ht-theme-main',
  rowHeaders: true,
  colHeaders: true,
  height: '100%',
  width: '100%',
  renderer: (_i: unknown, td: HTMLTableCellElement, row: number, col: number) => {
    const v = hf.getCellValue({ sheet: 0, row, col })
    td.textContent = v === null || v === undefined ? '' : typeof v === 'object' ? String((v as { value: unknown }).value) : String(v)
  },
})
document.body.dataset.ready = '1'
