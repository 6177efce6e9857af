/**
 * Makes a new owner link for a workbook, straight in the embedded store, and prints its address: for
 * workbooks made before share links existed, or when every owner link was lost. Run it on the server
 * machine (whoever can run it can read the database anyway):
 *
 *   npx tsx scripts/owner-link.ts <workbook-id> [name]          (DATA_DIR as for the server, default ./data)
 *   npx tsx scripts/owner-link.ts --list                        (the workbooks, with how many live owner links each has)
 */
import { resolve } from 'node:path'
import { SqliteStore } from '../server/store/sqlite'
import { hashToken, newLinkId, newToken } from '../server/auth'
import { linkUrl } from '../server/http/api'

const [arg, name = 'Owner'] = process.argv.slice(2)
if (!arg) { console.error('usage: tsx scripts/owner-link.ts <workbook-id> [name] | --list'); process.exit(2) }
const store = new SqliteStore(resolve(process.env.DATA_DIR || './data'))
try {
  if (arg === '--list') {
    for (const w of await store.listWorkbooks()) {
      const owners = (await store.listLinks(w.id)).filter(l => l.role === 'owner' && l.revokedAt === null).length
      console.log(`${w.id}\t${owners} owner link(s)\t${w.title}`)
    }
  } else {
    if (!(await store.getWorkbook(arg))) { console.error(`no workbook ${arg} in ${resolve(process.env.DATA_DIR || './data')}`); process.exit(1) }
    const token = newToken()
    await store.createLink({ id: newLinkId(), workbookId: arg, role: 'owner', name: name.slice(0, 80), createdAt: Date.now(), revokedAt: null }, hashToken(token))
    console.log(`owner link for ${arg}: ${linkUrl(arg, token)}  (prefix it with the server's address; the token is shown only now)`)
  }
} finally {
  await store.close()
}
