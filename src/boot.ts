/**
 * An entry of its own, first in the page's <head> (vite.config.ts puts it there; in development main.ts
 * imports it): on a workbook page, the requests the page will need start as soon as the page is parsed,
 * while the app's scripts load, instead of after the router has resolved the route and the page mounted.
 */
import { prefetchWorkbook, workbookIdOf } from './sync/prefetch'

if (workbookIdOf(location.pathname) !== null) {
  prefetchWorkbook()
  // the router asks for the same chunk when it resolves the route: it is on its way by then
  void import('./pages/WorkbookPage.vue')
}
