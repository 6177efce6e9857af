/** Loads and validates every templates/*.json at startup; a broken file stops the server with its name. */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { TemplateError, localize, resolveTemplate, validateTemplate, type Locale, type Template } from '../src/core/templates/template'
import { checkTemplate, type TemplatePreview } from '../src/core/templates/check'

export interface TemplateSummary {
  id: string
  /** saved or uploaded by someone (not shipped with the server) */
  custom: boolean
  title: string
  description: string
  sheets: string[]
  preview: TemplatePreview
}

export class TemplateRegistry {
  private readonly byId = new Map<string, { template: Template; previews: Record<Locale, TemplatePreview>; custom: boolean }>()

  constructor(templates: { template: Template; previews: Record<Locale, TemplatePreview> }[]) {
    for (const t of templates) this.byId.set(t.template.id, { ...t, custom: false })
  }

  /** A template someone saved or uploaded; shipped ones are never replaced. */
  addCustom(template: Template, previews: Record<Locale, TemplatePreview>): void {
    if (this.byId.get(template.id)?.custom === false) throw new Error(`template id ${template.id} is taken`)
    this.byId.set(template.id, { template, previews, custom: true })
  }
  removeCustom(id: string): boolean {
    if (this.byId.get(id)?.custom !== true) return false
    return this.byId.delete(id)
  }
  isCustom(id: string): boolean { return this.byId.get(id)?.custom === true }

  /**
   * Checks a template file someone sends (or saved from a workbook): valid, its includes known, and it
   * builds in both languages. Throws TemplateError naming the field.
   */
  prepare(json: unknown, source: string): { template: Template; previews: Record<Locale, TemplatePreview> } {
    const t = validateTemplate(json, source)
    const resolved = resolveTemplate(t, id => this.get(id), source)
    const { previews } = checkTemplate(resolved, source, { strict: false })
    return { template: resolved, previews }
  }

  /** The resolved template (includes and patches applied). */
  get(id: string): Template | undefined { return this.byId.get(id)?.template }
  has(id: string): boolean { return this.byId.has(id) }
  all(): Template[] { return Array.from(this.byId.values(), t => t.template) }

  /** Summaries for the API: blank first, then the combined plan, then by id. */
  summaries(locale: Locale): TemplateSummary[] {
    const rank = (id: string) => (id === 'blank' ? 0 : id === 'operations-plan' ? 1 : this.isCustom(id) ? 3 : 2)
    return Array.from(this.byId.values())
      .sort((a, b) => rank(a.template.id) - rank(b.template.id) || a.template.id.localeCompare(b.template.id))
      .map(({ template: t, previews, custom }) => ({
        id: t.id,
        custom,
        title: localize(t.title, locale),
        description: localize(t.description, locale),
        sheets: t.sheets.map(s => localize(s.name, locale)),
        preview: previews[locale],
      }))
  }
}

/** Throws TemplateError (naming the file) for unreadable, malformed, invalid, duplicate or failing templates. */
export function loadTemplates(dir: string): TemplateRegistry {
  let files: string[]
  try {
    // template.schema.json beside them describes them (for editors); it is not a template
    files = readdirSync(dir).filter(f => f.endsWith('.json') && !f.endsWith('.schema.json')).sort()
  } catch (e) {
    throw new Error(`templates directory ${dir} cannot be read: ${(e as Error).message}`)
  }
  const parsed: { template: Template; path: string }[] = []
  const seen = new Map<string, Template>()
  const paths = new Map<string, string>()
  for (const file of files) {
    const path = join(dir, file)
    let json: unknown
    try {
      json = JSON.parse(readFileSync(path, 'utf8'))
    } catch (e) {
      throw new TemplateError(path, '(file)', `is not valid JSON: ${(e as Error).message}`)
    }
    const t = validateTemplate(json, path)
    const other = paths.get(t.id)
    if (other) throw new TemplateError(path, 'id', `"${t.id}" is already used by ${other}`)
    paths.set(t.id, path)
    seen.set(t.id, t)
    parsed.push({ template: t, path })
  }
  if (!seen.has('blank')) throw new Error(`templates directory ${dir} has no "blank" template`)
  // includes may name templates in files read later, so resolve once all are known
  const loaded = parsed.map(({ template, path }) => {
    const resolved = resolveTemplate(template, id => seen.get(id), path)
    // a dry run in both languages, computed: a template that fails, fails now and not on first use
    const { previews } = checkTemplate(resolved, path)
    return { template: resolved, previews }
  })
  return new TemplateRegistry(loaded)
}
