/** Short random ids for sheets, rows and columns. Only [a-z0-9], so they never clash with formula syntax. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n)
  globalThis.crypto.getRandomValues(out)
  return out
}

export function newId(prefix: string, length = 10): string {
  const bytes = randomBytes(length)
  let s = prefix
  for (let i = 0; i < length; i++) s += ALPHABET[bytes[i]! % ALPHABET.length]
  return s
}

export const newSheetId = () => newId('s')
export const newRowId = () => newId('r')
export const newColId = () => newId('c')
