/**
 * Checks a workbook's audit trail: every entry's hash must follow from its fields and the entry before
 * it, so an entry edited, removed or inserted in the database is found. Reads the store the server uses
 * (DATABASE_URL for PostgreSQL, else DATA_DIR, default ./data). Exit 0 when the chain holds, 1 when it
 * is broken (the first broken entry is printed), 2 on bad usage or an unknown workbook.
 *
 *   npm run audit:verify -- <workbook-id>
 */
import { resolve } from 'node:path'
import { SqliteStore } from '../server/store/sqlite'
import { PostgresStore } from '../server/store/postgres'
import { verifyChain } from '../server/store/history'
import type { Store } from '../server/store/types'

const id = process.argv[2]
// (a workbook id may start with '-': only a help flag is one)
if (!id || id === '--help' || id === '-h') { console.error('usage: npm run audit:verify -- <workbook-id>'); process.exit(2) }
const store: Store = process.env.DATABASE_URL ? await new PostgresStore(process.env.DATABASE_URL).open() : new SqliteStore(resolve(process.env.DATA_DIR || './data'))
let code = 0
try {
  if (!(await store.getWorkbook(id))) { console.error(`no workbook ${id}`); code = 2 }
  else {
    const check = await verifyChain(store.history, id)
    console.log(JSON.stringify(check))
    if (!check.ok) { console.error(`the audit trail of ${id} is broken at entry ${check.brokenAt}: it was changed after it was written`); code = 1 }
    else console.error(`the audit trail of ${id} holds: ${check.entries} entries`)
  }
} finally {
  await store.close()
}
process.exit(code)
