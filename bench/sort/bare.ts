// The baseline page of the sort benchmark: Handsontable (base build) with its own ColumnSorting plugin
// on the same data rows, nothing else. window.sortNow() sorts by column B and returns when it is called.
import Handsontable from 'handsontable/base'
import { registerPlugin, ColumnSorting } from 'handsontable/plugins'

registerPlugin(ColumnSorting)
const data = (await (await fetch('/data.json')).json()) as (string | number)[][]
const [header, ...rows] = data
const hot = new Handsontable(document.getElementById('grid')!, {
  data: rows,
  licenseKey: 'non-commercial-and-evaluation',
  themeName: 'ht-theme-main',
  rowHeaders: true,
  colHeaders: header!.map(String),
  columnSorting: true,
  height: '100%',
  width: '100%',
})
;(window as unknown as { sortNow: () => number }).sortNow = () => {
  const at = Date.now()
  hot.getPlugin('columnSorting').sort({ column: 1, sortOrder: 'asc' })
  return at
}
document.body.dataset.ready = '1'
