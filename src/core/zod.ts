/**
 * The one schema library of the project (zod), as `zod/mini`: its functions tree-shake, so the browser
 * bundle carries only the checks the chart code uses. Rules are declared once, as schemas, and give
 * the typed values; `firstProblem` turns zod's first issue into the field and message our errors name.
 */
import * as z from 'zod/mini'

// zod compiles object parsers with `new Function` when it may; the page's CSP (script-src 'self')
// forbids it, and even zod's probe for it is reported as a violation. The interpreter is fast enough.
z.config({ jitless: true })

export { z }

/** `sheets[0].columns[2].type`; '' for the value itself. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`
  return out
}

/** The first thing wrong with a value, as the field it is in and what is wrong with it. */
export function firstProblem(error: z.core.$ZodError): { field: string; message: string } {
  const issue = error.issues[0]
  if (!issue) return { field: '', message: 'is not valid' }
  return { field: issuePath(issue.path), message: issue.message }
}
