/**
 * Packs the parts of a stored (uncompressed) ZIP again with Node's own deflate.
 *
 * ExcelJS zips through JSZip, whose deflate is JavaScript (pako): for a 10,000-row sheet that was
 * more than a third of the export. Asking ExcelJS for an uncompressed archive and deflating its
 * parts here in native code, on libuv's thread pool, gives the same file at a fraction of the cost.
 * The input is an archive this process just wrote, so it is read without the guards of the import's
 * reader (server/import/zip.ts).
 */
import { crc32, deflateRaw } from 'node:zlib'
import { promisify } from 'node:util'

const deflate = promisify(deflateRaw)
const EOCD = 0x06054b50, CEN = 0x02014b50, LOC = 0x04034b50
/** general-purpose flag bit 11: the name is UTF-8 */
const UTF8_NAMES = 0x0800

export interface Part {
  name: Buffer
  flags: number
  time: number
  date: number
  crc: number
  size: number
  externalAttrs: number
  data: Buffer
}

export function readStored(zip: Buffer): Part[] {
  let eocd = -1
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === EOCD) { eocd = i; break }
  }
  if (eocd < 0) throw new Error('zip: no end of central directory')
  const count = zip.readUInt16LE(eocd + 10)
  const parts: Part[] = []
  let p = zip.readUInt32LE(eocd + 16)
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== CEN) throw new Error('zip: bad central directory')
    const method = zip.readUInt16LE(p + 10)
    const nameLen = zip.readUInt16LE(p + 28), extraLen = zip.readUInt16LE(p + 30), commentLen = zip.readUInt16LE(p + 32)
    const size = zip.readUInt32LE(p + 24)
    const local = zip.readUInt32LE(p + 42)
    if (method !== 0) throw new Error('zip: expected stored parts')
    if (zip.readUInt32LE(local) !== LOC) throw new Error('zip: bad local header')
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    parts.push({
      name: zip.subarray(p + 46, p + 46 + nameLen),
      flags: zip.readUInt16LE(p + 8) & UTF8_NAMES,
      time: zip.readUInt16LE(p + 12),
      date: zip.readUInt16LE(p + 14),
      crc: zip.readUInt32LE(p + 16),
      size,
      externalAttrs: zip.readUInt32LE(p + 38),
      data: zip.subarray(start, start + size),
    })
    p += 46 + nameLen + extraLen + commentLen
  }
  return parts
}

/**
 * The fields a local header and a central directory entry share, in the same order (flags, method,
 * time, date, CRC, sizes, name length, extra length), from `at`.
 */
function writeEntryFields(buf: Buffer, at: number, part: Part, method: number, packedSize: number): void {
  buf.writeUInt16LE(part.flags, at)
  buf.writeUInt16LE(method, at + 2)
  buf.writeUInt16LE(part.time, at + 4)
  buf.writeUInt16LE(part.date, at + 6)
  buf.writeUInt32LE(part.crc, at + 8)
  buf.writeUInt32LE(packedSize, at + 12)
  buf.writeUInt32LE(part.size, at + 16)
  buf.writeUInt16LE(part.name.length, at + 20)
  buf.writeUInt16LE(0, at + 22)
}

/**
 * The same archive with every part deflated (or kept stored where deflating does not make it smaller).
 * Level 1 by default: on the 4.3 MB sheet of the 10k-row benchmark it takes 45 ms against 150 ms at
 * level 6, for a file 13 % larger (1,060 against 941 KiB; plain ExcelJS writes 999 KiB).
 */
export async function deflateStoredZip(zip: Buffer, level = 1): Promise<Buffer> {
  return deflateParts(readStored(zip), level)
}

/** The part named `name` (as `readStored` gave it), or undefined. */
export function findPart(parts: readonly Part[], name: string): Part | undefined {
  return parts.find(p => p.name.toString('utf8') === name)
}

/** Gives `part` new contents (size and CRC follow). */
export function replacePart(part: Part, data: Buffer): void {
  part.data = data
  part.size = data.length
  part.crc = crc32(data) >>> 0
}

/** `parts` as an archive, each deflated where that makes it smaller (see deflateStoredZip). */
export async function deflateParts(parts: readonly Part[], level = 1): Promise<Buffer> {
  const packed = await Promise.all(parts.map(async part => {
    const z = await deflate(part.data, { level })
    return z.length < part.size ? { method: 8, data: z } : { method: 0, data: part.data }
  }))
  const chunks: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  parts.forEach((part, i) => {
    const { method, data } = packed[i]!
    const local = Buffer.alloc(30)
    local.writeUInt32LE(LOC, 0)
    local.writeUInt16LE(20, 4) // version needed: 2.0 (deflate)
    writeEntryFields(local, 6, part, method, data.length)
    const cen = Buffer.alloc(46)
    cen.writeUInt32LE(CEN, 0)
    cen.writeUInt16LE(20, 4) // made by: MS-DOS, 2.0
    cen.writeUInt16LE(20, 6)
    writeEntryFields(cen, 8, part, method, data.length)
    // extra, comment, disk, internal attributes: 0
    cen.writeUInt32LE(part.externalAttrs, 38)
    cen.writeUInt32LE(offset, 42)
    chunks.push(local, part.name, data)
    central.push(cen, part.name)
    offset += 30 + part.name.length + data.length
  })
  const cdSize = central.reduce((n, b) => n + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(EOCD, 0)
  end.writeUInt16LE(parts.length, 8)
  end.writeUInt16LE(parts.length, 10)
  end.writeUInt32LE(cdSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...chunks, ...central, end])
}
