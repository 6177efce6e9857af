/**
 * Every shipped template loads, validates, builds in both languages and computes with no formula
 * errors; rows added to its tables get the column formulas and compute cleanly too.
 */
import { fileURLToPath } from 'node:url'
import { mkdtempSync, writeFileSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook, validateTemplate, TemplateError, LOCALES } from '../../src/core/templates/template'
import { TEMPLATE_SCHEMA_FILE, templateSchemaText } from '../../scripts/template-schema'
import { FormulaEngine, isErrorValue } from '../../src/core/formulas/engine'
import { shiftA1Formula } from '../../src/core/formulas/references'
import { sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { editCells, insertRows } from '../../src/core/workbook/mutations'
import { formulaColumns, totalsRowOf } from '../../src/core/workbook/table'
import { textForInput } from '../../src/core/workbook/input'
import { cellKey } from '../../src/core/workbook/schema'

const TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url))
const registry = loadTemplates(TEMPLATES)

const EXPECTED = [
  'blank', 'market-analysis', 'goal-setting', 'strategy-execution', 'activity-progress', 'performance-appraisal',
  'product-operations', 'kpi-monitoring', 'team-roles', 'budget-forecast', 'channel-plan', 'operations-plan',
]

function errorsIn(doc: Y.Doc, engine: FormulaEngine): string[] {
  const out: string[] = []
  for (const sheetId of engine.layout.order) {
    const sl = engine.layout.sheet(sheetId)!
    sheetParts(sheetsOf(doc).get(sheetId)!).cells.forEach((_v, key) => {
      const [r, c] = key.split(':') as [string, string]
      const v = engine.getValueById(sheetId, r, c)
      if (isErrorValue(v)) out.push(`${sl.name}!${sl.rows.indexOf(r) + 1}:${sl.cols.indexOf(c) + 1} ${v.error}`)
    })
  }
  return out
}

describe('shipped templates', () => {
  it('include every plan the team asked for, each with a description in both languages', () => {
    expect(registry.all().map(t => t.id).sort()).toEqual([...EXPECTED].sort())
    for (const s of registry.summaries('zh-CN')) expect(s.description, s.id).not.toBe('')
    for (const s of registry.summaries('en')) expect(s.description, s.id).toMatch(/[a-z]/)
  })

  it('operations-plan holds the sheets of every other template, named in Chinese', () => {
    const ops = registry.summaries('zh-CN').find(s => s.id === 'operations-plan')!
    for (const id of EXPECTED.filter(x => x !== 'blank' && x !== 'operations-plan')) {
      for (const name of registry.summaries('zh-CN').find(s => s.id === id)!.sheets) expect(ops.sheets).toContain(name)
    }
    expect(ops.sheets.every(n => /[\u4e00-\u9fff]/.test(n) || /^PESTEL/.test(n))).toBe(true)
  })

  for (const id of EXPECTED) {
    for (const locale of LOCALES) {
      it(`${id} (${locale}) computes with no errors, and new rows get its column formulas`, () => {
        const doc = new Y.Doc()
        buildWorkbook(doc, registry.get(id)!, { locale })
        const engine = new FormulaEngine(doc)
        expect(errorsIn(doc, engine)).toEqual([])
        for (const sheetId of [...engine.layout.order]) {
          const sheet = sheetsOf(doc).get(sheetId)!
          const fcols = formulaColumns(sheet)
          if (!fcols.length) continue
          const { cells } = sheetParts(sheet)
          const sl = () => engine.layout.sheet(sheetId)!
          const text = (r: number, colId: string) => textForInput(cells.get(cellKey(sl().rows.ids[r]!, colId)), { layout: engine.layout, sheetId })
          // a row inserted below the first data row
          insertRows(doc, sheetId, 1, 1)
          for (const [colId] of fcols) {
            const first = text(0, colId)
            expect(first, `${sl().name} first row`).toMatch(/^=/)
            if (!first.includes('!')) expect(text(1, colId)).toBe(shiftA1Formula(first, 1, 0))
            else expect(text(1, colId)).toMatch(/^=/)
          }
          // a row inserted right above the totals row, or typed into right below the table
          const totals = totalsRowOf(sheet)
          let added: number
          if (totals) {
            added = sl().rows.indexOf(totals)
            insertRows(doc, sheetId, added, 1)
          } else {
            added = 0
            while (fcols.some(([c]) => cells.has(cellKey(sl().rows.ids[added]!, c)))) added++
            const free = sl().cols.ids.find(c => !fcols.some(([f]) => f === c))!
            editCells(doc, sheetId, [{ rowId: sl().rows.ids[added]!, colId: free, value: 'x' }])
          }
          for (const [colId] of fcols) expect(text(added, colId), `${sl().name} row ${added + 1}`).toMatch(/^=/)
        }
        expect(errorsIn(doc, engine)).toEqual([])
        engine.destroy()
      })
    }
  }
})

describe('template loading errors', () => {
  const file = 'x.json'
  const base = { schemaVersion: 2, id: 'x', title: 'x', sheets: [{ name: 'a', columns: [{ key: 'k', type: 'number' }] }] }
  const fails = (patch: (t: typeof base & Record<string, unknown>) => void, field: RegExp) => {
    const t = structuredClone(base) as typeof base & Record<string, unknown>
    patch(t)
    let err: unknown
    try { validateTemplate(t, file) } catch (e) { err = e }
    expect(err).toBeInstanceOf(TemplateError)
    expect((err as TemplateError).field).toMatch(field)
  }

  it('names the field that is wrong', () => {
    fails(t => { t.schemaVersion = 99 }, /schemaVersion/)
    fails(t => { (t.sheets[0]!.columns[0] as Record<string, unknown>).type = 'money' }, /sheets\[0\]\.columns\[0\]\.type/)
    fails(t => { (t.sheets[0]!.columns[0] as Record<string, unknown>).rules = [{ op: '~', style: 'good' }] }, /rules\[0\]\.op/)
    fails(t => { (t.sheets[0]!.columns[0] as Record<string, unknown>).rules = [{ op: '>', value: 1, style: 'good', column: 'nope' }] }, /rules\[0\]\.column/)
    fails(t => { (t.sheets[0]!.columns[0] as Record<string, unknown>).formula = 'A1*2' }, /formula/)
    fails(t => { (t.sheets[0]!.columns[0] as Record<string, unknown>).type = 'select' }, /options/)
    fails(t => { (t.sheets[0] as Record<string, unknown>).totals = [{ bad: 1 }] }, /totals\[0\]/)
    fails(t => { t.patches = [{ sheet: 'a', cell: 'nope', value: 1 }] }, /patches\[0\]\.cell/)
  })

  it('a template whose formula fails or whose sample breaks its dropdown stops the server with file, sheet and cell', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-tpl-'))
    mkdirSync(join(dir, 't'))
    copyFileSync(join(TEMPLATES, 'blank.json'), join(dir, 't', 'blank.json'))
    const write = (t: unknown) => writeFileSync(join(dir, 't', 'plan.json'), JSON.stringify(t))
    write({ schemaVersion: 2, id: 'plan', title: 'p', sheets: [{ name: '计划', data: [[1, 0, '=A1/B1']] }] })
    expect(() => loadTemplates(join(dir, 't'))).toThrow(/plan\.json: sheets\[0\] "计划" C1: zh-CN: formula gives #DIV\/0!/)
    write({ schemaVersion: 2, id: 'plan', title: 'p', sheets: [{ name: '计划', columns: [{ type: 'select', options: ['是', '否'] }], data: [['也许']] }] })
    expect(() => loadTemplates(join(dir, 't'))).toThrow(/plan\.json: sheets\[0\] "计划" A1: zh-CN: value "也许" breaks/)
    write({ schemaVersion: 2, id: 'plan', title: 'p', include: ['nothing'], sheets: [] })
    expect(() => loadTemplates(join(dir, 't'))).toThrow(/plan\.json: include\[0\]: unknown template "nothing"/)
    write({ schemaVersion: 2, id: 'plan', title: 'p', sheets: [{ name: '计划', data: [["='别的表'!A1"]] }] })
    expect(() => loadTemplates(join(dir, 't'))).toThrow(/plan\.json: sheets\[0\] "计划" A1/)
  })

  it('fills every default, keeps unknown keys, reads version 1 files, and takes and drops an editor\'s $schema', () => {
    const t = validateTemplate({ $schema: './template.schema.json', id: 'x', title: 'x', owner: '运营部', sheets: [{ name: 'a', note: 1 }] }, file)
    expect(t).toEqual({ schemaVersion: 2, id: 'x', title: 'x', description: '', include: [], patches: [], owner: '运营部', sheets: [{ name: 'a', note: 1 }] })
    expect('$schema' in t).toBe(false)
    fails(t => { t.$schema = 5 }, /\$schema/)
  })
})

describe('the published template schema', () => {
  it('templates/template.schema.json is what the schema generates (run npx tsx scripts/template-schema.ts after changing it)', () => {
    expect(readFileSync(TEMPLATE_SCHEMA_FILE, 'utf8')).toBe(templateSchemaText())
  })

  it('describes the fields, the defaults and the unknown keys the loader takes', () => {
    const schema = JSON.parse(templateSchemaText())
    expect(schema.required).toEqual(['id', 'title'])
    expect(schema.additionalProperties).toEqual({})
    expect(schema.properties.description.default).toBe('')
    const column = schema.properties.sheets.items.properties.columns.items
    expect(column.properties.type.enum).toContain('percent')
    expect(column.properties.key.pattern).toBe('^[A-Za-z][A-Za-z0-9_-]{0,63}$')
    expect(schema.$defs.localized.anyOf).toHaveLength(2)
  })
})

describe('the workbook\'s language', () => {
  it('is the one it was made in (what messages about it are written in); only a known one is taken from a client', async () => {
    const { checkChange } = await import('../../src/core/access/access')
    const { workbookLang } = await import('../../src/core/workbook/mutations')
    const blank = registry.get('blank')!
    const en = new Y.Doc(), zh = new Y.Doc(), old = new Y.Doc()
    buildWorkbook(en, blank, { locale: 'en' })
    buildWorkbook(zh, blank, {})
    expect([workbookLang(en), workbookLang(zh), workbookLang(old)]).toEqual(['en', 'zh-CN', 'zh-CN'])
    const after = new Y.Doc()
    Y.applyUpdate(after, Y.encodeStateAsUpdate(en))
    const verdicts: unknown[] = []
    after.on('afterTransaction', tr => { verdicts.push(checkChange(en, after, tr, { role: 'editor', name: '张三' })) })
    after.getMap('meta').set('lang', 'fr')
    after.getMap('meta').set('lang', 'zh-CN')
    expect(verdicts[0]).toMatchObject({ code: 'not-workbook' })
    expect(verdicts[1]).toBeNull()
  })
})
