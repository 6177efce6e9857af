/**
 * Runs before the rest of the app (main.ts imports it first): on a workbook page, the requests the
 * page will need start now, while the entry's other modules run and the page's chunk loads, instead
 * of after the router has resolved the route and the page has mounted.
 */
import { prefetchWorkbook, workbookIdOf } from './sync/prefetch'

if (workbookIdOf(location.pathname) !== null) {
  prefetchWorkbook()
  // the router asks for the same chunk when it resolves the route: it is on its way by then
  void import('./pages/WorkbookPage.vue')
}
