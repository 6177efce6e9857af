/**
 * Checks an .xlsx (a ZIP) before anything parses it: at most `maxEntries` entries, and at most
 * `maxUnpackedBytes` once inflated — measured by inflating every entry with a hard output cap, never by
 * trusting the sizes the archive declares (a zip bomb lies about them).
 */
import { inflateRawSync } from 'node:zlib'

export class BadFile extends Error {
  constructor(readonly status: 400 | 413 | 415 | 422 | 503, message: string) { super(message); this.name = 'BadFile' }
}

export interface ZipLimits { maxEntries: number; maxUnpackedBytes: number }

const EOCD = 0x06054b50, CEN = 0x02014b50, LOC = 0x04034b50

/** What the first bytes say (cheap: run before a worker starts): refuses what is no ZIP at all. */
export function checkSignature(buf: Buffer): void {
  // an OLE compound file: what Excel saves when a password encrypts the workbook, or an old .xls
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0xd0cf11e0 && buf.readUInt32BE(4) === 0xa1b11ae1) {
    throw new BadFile(415, 'the file is password-protected or an old .xls (an encrypted or binary workbook, not a ZIP archive): open it in Excel, remove the password or save it as .xlsx, and import that')
  }
  if (buf.length < 22 || buf.readUInt32LE(0) !== LOC) throw new BadFile(415, 'not an .xlsx file (it is not a ZIP archive)')
}

export function checkZip(buf: Buffer, limits: ZipLimits): { entries: string[]; unpackedBytes: number } {
  checkSignature(buf)
  // the end-of-central-directory record is in the last 64 KiB + 22 bytes
  let eocd = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === EOCD) { eocd = i; break }
  }
  if (eocd < 0) throw new BadFile(400, 'the file is damaged (no ZIP directory)')
  const count = buf.readUInt16LE(eocd + 10)
  const cdOffset = buf.readUInt32LE(eocd + 16)
  if (count === 0xffff || cdOffset === 0xffffffff) throw new BadFile(413, 'ZIP64 archives are not taken (too large)')
  if (count > limits.maxEntries) throw new BadFile(413, `the file holds ${count} parts; at most ${limits.maxEntries} are taken`)
  const entries: string[] = []
  let unpacked = 0
  let p = cdOffset
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CEN) throw new BadFile(400, 'the file is damaged (bad ZIP directory)')
    const method = buf.readUInt16LE(p + 10)
    const compressed = buf.readUInt32LE(p + 20)
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32)
    const local = buf.readUInt32LE(p + 42)
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen)
    entries.push(name)
    p += 46 + nameLen + extraLen + commentLen
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOC) throw new BadFile(400, `the file is damaged (part ${name})`)
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    if (start + compressed > buf.length) throw new BadFile(400, `the file is damaged (part ${name} is cut short)`)
    const data = buf.subarray(start, start + compressed)
    const budget = limits.maxUnpackedBytes - unpacked
    if (method === 0) {
      unpacked += data.length
    } else if (method === 8) {
      try {
        unpacked += inflateRawSync(data, { maxOutputLength: Math.max(1, budget + 1) }).length
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
          throw new BadFile(413, `the file unpacks to more than ${Math.round(limits.maxUnpackedBytes / 1048576)} MB`)
        }
        throw new BadFile(400, `the file is damaged (part ${name} does not unpack)`)
      }
    } else {
      throw new BadFile(415, `part ${name} uses a compression .xlsx files do not use (${method})`)
    }
    if (unpacked > limits.maxUnpackedBytes) throw new BadFile(413, `the file unpacks to more than ${Math.round(limits.maxUnpackedBytes / 1048576)} MB`)
  }
  if (!entries.includes('[Content_Types].xml') || !entries.some(e => e.startsWith('xl/'))) throw new BadFile(415, 'not an .xlsx file (no workbook inside)')
  return { entries, unpackedBytes: unpacked }
}
