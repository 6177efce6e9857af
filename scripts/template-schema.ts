/**
 * Writes templates/template.schema.json from the template schema (src/core/templates/schema.ts), so
 * editors can check and complete template files that name it with "$schema": "./template.schema.json".
 * Run after changing the schema: npx tsx scripts/template-schema.ts (a unit test fails until you do).
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { templateJsonSchema } from '../src/core/templates/schema'

export const TEMPLATE_SCHEMA_FILE = fileURLToPath(new URL('../templates/template.schema.json', import.meta.url))

/** The file's text: the schema as JSON, two-space indented, with a final newline. */
export const templateSchemaText = () => JSON.stringify(templateJsonSchema(), null, 2) + '\n'

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TEMPLATE_SCHEMA_FILE, templateSchemaText())
  console.log(`wrote ${TEMPLATE_SCHEMA_FILE}`)
}
