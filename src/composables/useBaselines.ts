/**
 * BASELINE() in the page (src/core/formulas/baseline.ts): once the workbook holds a BASELINE formula
 * (when it opens, or when someone types one), the engine is given a source of named versions; a name
 * the formulas ask for is fetched (the versions list, then that version's state), computed once, and
 * the engine computes again with it. Names no version has give #REF!. Nothing is fetched for workbooks
 * without the function.
 */
import * as Y from 'yjs'
import { baselineSource, type BaselineSource } from '../core/formulas/baseline'
import { versionValues } from '../core/history/baselines'
import type { FormulaEngine } from '../core/formulas/engine'
import { isFormula, sheetParts, sheetsOf } from '../core/workbook/schema'
import { historyApi, type VersionInfo } from '../components/history/historyApi'

const mentions = (v: unknown): boolean => isFormula(v) && /BASELINE\s*\(/i.test(v.v)

function holdsBaseline(doc: Y.Doc): boolean {
  for (const sheet of sheetsOf(doc).values()) {
    for (const v of sheetParts(sheet).cells.values()) if (mentions(v)) return true
  }
  return false
}

/** Watches the workbook for BASELINE formulas and feeds the engine their versions. Returns a stop function. */
export function watchBaselines(workbookId: string, doc: Y.Doc, engine: FormulaEngine): () => void {
  let source: BaselineSource | null = null
  let list: Promise<VersionInfo[]> | null = null
  const wanted = new Set<string>()
  let loading = false

  const load = async () => {
    if (loading || !source) return
    loading = true
    try {
      while (wanted.size) {
        const names = [...wanted]
        wanted.clear()
        const versions = await (list ??= historyApi(workbookId).versions())
        for (const name of names) {
          if (source.versions.has(name)) continue
          const v = versions.find(x => !x.auto && x.name === name)
          if (!v) { source.versions.set(name, null); continue }
          const vdoc = new Y.Doc()
          Y.applyUpdate(vdoc, await historyApi(workbookId).state(v.id))
          source.versions.set(name, versionValues(vdoc))
          vdoc.destroy()
        }
        // a version saved since the list was read is found the next time a name is missing
        list = null
        engine.setBaselines(source)
      }
    } catch {
      // history off for this link, or offline: the cells keep showing #N/A
    } finally {
      loading = false
    }
  }

  const install = () => {
    if (source) return
    source = baselineSource(name => { if (!source!.versions.has(name)) { wanted.add(name); queueMicrotask(() => void load()) } })
    engine.setBaselines(source)
  }

  if (holdsBaseline(doc)) install()
  const stop = engine.onChange(c => {
    if (source) return
    for (const [sheetId, keys] of c.cells) {
      const cells = sheetsOf(doc).get(sheetId)?.get('cells') as Y.Map<unknown> | undefined
      // after this change has reached every listener: installing computes everything again
      for (const k of keys) if (mentions(cells?.get(k))) { queueMicrotask(install); return }
    }
  })
  return stop
}
