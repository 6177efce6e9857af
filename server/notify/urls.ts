/**
 * Webhook target addresses: an outgoing webhook is a server-side request forgery path (a workbook owner
 * could make the server probe the internal network), so a target is http or https, without credentials,
 * and its host resolves only to public addresses: no loopback, private, link-local, carrier-grade NAT,
 * unique-local, unspecified, multicast or reserved ones (nor IPv4-mapped/NAT64 forms of them), unless the
 * server runs with ALLOW_PRIVATE_WEBHOOKS. The check runs when the owner saves the target and again at
 * each delivery, on the very addresses the request connects to (`pinnedLookup`: a name that resolved to
 * a public address at save time and to 127.0.0.1 now is refused, DNS rebinding).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP } from 'node:net'

export const MAX_URL_LENGTH = 2048

export type AddressClass = 'loopback' | 'private' | 'link-local' | 'shared' | 'unique-local' | 'unspecified' | 'multicast' | 'reserved'

const DESCRIBE: Record<AddressClass, string> = {
  loopback: 'a loopback address', private: 'a private address', 'link-local': 'a link-local address',
  shared: 'a carrier-grade NAT address', 'unique-local': 'a unique-local address', unspecified: 'an unspecified address',
  multicast: 'a multicast address', reserved: 'a reserved address',
}

function v4Bytes(ip: string): number[] | null {
  const parts = ip.split('.')
  if (parts.length !== 4) return null
  const out = parts.map(p => (/^\d{1,3}$/.test(p) ? Number(p) : NaN))
  return out.every(n => n >= 0 && n <= 255) ? out : null
}

function classifyV4(b: number[]): AddressClass | null {
  const [a, c] = [b[0]!, b[1]!]
  if (a === 0) return 'unspecified'
  if (a === 127) return 'loopback'
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return 'private'
  if (a === 169 && c === 254) return 'link-local'
  if (a === 100 && c >= 64 && c <= 127) return 'shared'
  if (a >= 224 && a <= 239) return 'multicast'
  // 240/4 (and the broadcast address), 192.0.0/24 (protocol assignments), 198.18/15 (benchmarking)
  if (a >= 240 || (a === 192 && c === 0 && b[2] === 0) || (a === 198 && (c === 18 || c === 19))) return 'reserved'
  return null
}

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail read too), or null. */
function v6Groups(ip: string): number[] | null {
  let s = ip.toLowerCase()
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  const lastColon = s.lastIndexOf(':')
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = v4Bytes(s.slice(lastColon + 1))
    if (!v4) return null
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return null
  const read = (h: string): number[] | null => {
    if (h === '') return []
    const g = h.split(':').map(x => (/^[0-9a-f]{1,4}$/.test(x) ? parseInt(x, 16) : NaN))
    return g.some(Number.isNaN) ? null : g
  }
  const head = read(halves[0]!), rest = halves.length === 2 ? read(halves[1]!) : []
  if (!head || !rest) return null
  const given = head.length + rest.length
  if (halves.length === 1 && given !== 8) return null
  if (given > 8 || (halves.length === 2 && given === 8)) return null
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest]
}

function classifyV6(g: number[]): AddressClass | null {
  const zeros = (n: number) => g.slice(0, n).every(x => x === 0)
  if (zeros(8)) return 'unspecified'
  if (zeros(7) && g[7] === 1) return 'loopback'
  const v4 = (): number[] => [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255]
  // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d: the IPv4 address decides
  if (zeros(5) && g[5] === 0xffff) return classifyV4(v4())
  if (zeros(6)) return classifyV4(v4())
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every(x => x === 0)) return classifyV4(v4())
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local'
  if ((g[0]! & 0xffc0) === 0xfec0) return 'private'
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique-local'
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast'
  return null
}

/** What kind of non-public address `ip` is, or null for a public one. Throws for text that is no IP address. */
export function classifyAddress(ip: string): AddressClass | null {
  const raw = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  const family = isIP(raw.split('%')[0]!)
  if (family === 4) return classifyV4(v4Bytes(raw)!)
  if (family === 6) {
    const g = v6Groups(raw)
    if (g) return classifyV6(g)
  }
  throw new Error(`${ip} is not an IP address`)
}

/** Why `ip` may not be a webhook's address ("127.0.0.1 is a loopback address"), or null. */
export function refusedAddress(ip: string, allowPrivate: boolean): string | null {
  if (allowPrivate) return null
  const c = classifyAddress(ip)
  return c ? `${ip} is ${DESCRIBE[c]}` : null
}

export type Resolver = (host: string) => Promise<LookupAddress[]>

export const systemResolver: Resolver = host => new Promise((resolve, reject) => {
  dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)))
})

const hostOf = (u: URL): string => (u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname)

/** The URL's form problems (scheme, credentials, length), or null; no lookup. */
export function urlProblem(raw: string): string | null {
  if (raw.length > MAX_URL_LENGTH) return `the URL is longer than ${MAX_URL_LENGTH} characters`
  let u: URL
  try { u = new URL(raw) } catch { return 'not a URL' }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'only http and https URLs are allowed'
  if (u.username || u.password) return 'a user name or password in the URL is not allowed'
  if (!hostOf(u)) return 'the URL has no host'
  return null
}

/**
 * Checks a target URL as the owner saves it: its form, then every address its host resolves to.
 * Returns why it is refused (a sentence to follow the field name), or null.
 */
export async function targetUrlProblem(raw: string, allowPrivate: boolean, resolver: Resolver = systemResolver): Promise<string | null> {
  const form = urlProblem(raw)
  if (form) return form
  const host = hostOf(new URL(raw))
  if (isIP(host)) return refusedAddress(host, allowPrivate)
  if (allowPrivate) return null
  let addresses: LookupAddress[]
  try { addresses = await resolver(host) } catch { return `${host} cannot be resolved` }
  if (!addresses.length) return `${host} cannot be resolved`
  for (const a of addresses) {
    const why = refusedAddress(a.address, false)
    if (why) return `${host} resolves to ${why}`
  }
  return null
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for http(s).request that resolves the host and refuses the connection when any of its
 * addresses is not public (the request connects only to what was checked here).
 */
export function pinnedLookup(allowPrivate: boolean, resolver: Resolver = systemResolver) {
  return (host: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolver(host).then(addresses => {
      if (!addresses.length) throw Object.assign(new Error(`${host} cannot be resolved`), { code: 'ENOTFOUND' })
      for (const a of addresses) {
        const why = refusedAddress(a.address, allowPrivate)
        if (why) throw Object.assign(new Error(`${host} resolves to ${why}`), { code: 'EREFUSEDADDRESS' })
      }
      if (options?.all) callback(null, addresses)
      else callback(null, addresses[0]!.address, addresses[0]!.family)
    }).catch((e: NodeJS.ErrnoException) => callback(e, ''))
  }
}
