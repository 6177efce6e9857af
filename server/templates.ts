/** Loads and validates every templates/*.json at startup; a broken file stops the server with its name. */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { TemplateError, buildWorkbook, localize, validateTemplate, type Locale, type Template } from '../src/core/templates/template'

export class TemplateRegistry {
  private readonly byId = new Map<string, Template>()

  constructor(templates: Template[]) {
    for (const t of templates) this.byId.set(t.id, t)
  }

  get(id: string): Template | undefined { return this.byId.get(id) }
  has(id: string): boolean { return this.byId.has(id) }
  all(): Template[] { return Array.from(this.byId.values()) }

  /** Summaries for the API; blank first, then by id. */
  summaries(locale: Locale): { id: string; title: string; description: string; sheets: string[] }[] {
    return this.all()
      .sort((a, b) => (a.id === 'blank' ? -1 : b.id === 'blank' ? 1 : a.id.localeCompare(b.id)))
      .map(t => ({
        id: t.id,
        title: localize(t.title, locale),
        description: localize(t.description, locale),
        sheets: t.sheets.map(s => localize(s.name, locale)),
      }))
  }
}

/** Throws TemplateError (naming the file) for unreadable, malformed, invalid or duplicate templates. */
export function loadTemplates(dir: string): TemplateRegistry {
  let files: string[]
  try {
    files = readdirSync(dir).filter(f => f.endsWith('.json')).sort()
  } catch (e) {
    throw new Error(`templates directory ${dir} cannot be read: ${(e as Error).message}`)
  }
  const templates: Template[] = []
  const seen = new Map<string, string>()
  for (const file of files) {
    const path = join(dir, file)
    let json: unknown
    try {
      json = JSON.parse(readFileSync(path, 'utf8'))
    } catch (e) {
      throw new TemplateError(path, '(file)', `is not valid JSON: ${(e as Error).message}`)
    }
    const t = validateTemplate(json, path)
    // a dry run in both languages, so data the builder rejects fails now and not on first use
    for (const locale of ['zh-CN', 'en'] as const) {
      try {
        buildWorkbook(new Y.Doc(), t, { locale })
      } catch (e) {
        throw new TemplateError(path, '(build)', `${locale}: ${(e as Error).message}`)
      }
    }
    const other = seen.get(t.id)
    if (other) throw new TemplateError(path, 'id', `"${t.id}" is already used by ${other}`)
    seen.set(t.id, path)
    templates.push(t)
  }
  if (!seen.has('blank')) throw new Error(`templates directory ${dir} has no "blank" template`)
  return new TemplateRegistry(templates)
}
