/**
 * Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, against the real server
 * serving the built SPA from dist/. No browser is ever downloaded.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startTestServer, type TestServer } from './server'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const DIST = join(import.meta.dirname, '..', '..', 'dist')

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}

/** The real server serving the built app (run `vite build` first; the test command does). */
export async function startAppServer(): Promise<TestServer> {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('dist/index.html is missing: run `npx vite build` first (npm test does)')
  return startTestServer({ staticDir: DIST })
}

/** Collects page errors so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', e => errors.push(e.message))
  // an alert is what an XSS payload raises; confirm and prompt dialogs are the app's own and left to the test
  page.on('dialog', d => { if (d.type() !== 'confirm' && d.type() !== 'prompt') { errors.push(`dialog: ${d.message()}`); void d.dismiss() } })
  return errors
}

/**
 * CSS selector of a cell of the main grid by zero-based row/col. Handsontable renders only the rows and
 * columns in view, so cells are found by their ARIA indexes (1 is the header row/column), not by order.
 */
export function cellSelector(row: number, col: number): string {
  return `[data-testid="grid"][data-live] .ht_master tbody tr[aria-rowindex="${row + 2}"] td[aria-colindex="${col + 2}"]`
}

export function cellLocator(page: Page, row: number, col: number) {
  return page.locator(cellSelector(row, col))
}

/** The rendered text of a visible cell of the main grid, by zero-based row/col (a colleague's name tag on it left out). */
export function cellText(page: Page, row: number, col: number): Promise<string> {
  return cellLocator(page, row, col).evaluate(td => Array.from(td.childNodes)
    .filter(n => !(n instanceof HTMLElement && n.classList.contains('presence-tag'))).map(n => n.textContent ?? '').join(''))
}

/** Waits until a cell shows `text` (the grid re-renders on remote changes; no sleeping). */
export async function waitForCell(page: Page, row: number, col: number, text: string, timeout = 20_000): Promise<void> {
  try {
    await page.waitForFunction(([sel, t]) => {
      const td = document.querySelector(sel)
      return !!td && Array.from(td.childNodes).filter(n => !(n instanceof HTMLElement && n.classList.contains('presence-tag'))).map(n => n.textContent ?? '').join('') === t
    }, [cellSelector(row, col), text] as const, { timeout })
  } catch (e) {
    // say what the grid showed instead, so a failure can be read without a trace
    const seen = await page.evaluate(() => Array.from(document.querySelectorAll('.ht_master tbody tr')).slice(0, 8)
      .map(tr => Array.from(tr.querySelectorAll('td')).slice(0, 8).map(td => td.textContent).join(' | ')).join('\n')).catch(() => '(page gone)')
    throw new Error(`cell (${row}, ${col}) of ${page.url()} never showed ${JSON.stringify(text)}; the grid showed:\n${seen}\n${(e as Error).message.split('\n')[0]}`)
  }
}

/**
 * Clicks a cell where a person would: at its place on screen. In frozen rows/columns Handsontable draws
 * a copy of the cell over the master table, and that copy is what takes the click.
 */
export async function clickCell(page: Page, row: number, col: number): Promise<void> {
  const td = cellLocator(page, row, col)
  await td.scrollIntoViewIfNeeded()
  const box = await td.boundingBox()
  if (!box) throw new Error(`cell (${row}, ${col}) is not on screen`)
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
}

/**
 * Waits until the grid's typing field holds the focus. With imeFastEdit, Handsontable focuses the cell
 * on a click and moves the focus to its textarea a moment later; an input method composes only in an
 * editable element, so a composition sent before that moment lands nowhere (a person is never that fast).
 */
export async function waitForTypingFocus(page: Page): Promise<void> {
  await page.waitForFunction(() => document.activeElement instanceof HTMLTextAreaElement
    && document.activeElement.classList.contains('handsontableInput'))
}

/** Types into the selected cell as a person does, committing with Enter (which moves down). */
export async function typeCell(page: Page, text: string): Promise<void> {
  await page.keyboard.type(text)
  await page.keyboard.press('Enter')
}
