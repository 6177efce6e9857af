/**
 * Licence keys of Handsontable and HyperFormula. They are configuration, not code: the server reads
 * HANDSONTABLE_LICENSE_KEY and HYPERFORMULA_LICENSE_KEY and hands them to the page (a `<meta
 * name="pw-licenses">` in index.html), so a deployment with a commercial key needs no rebuild.
 * Server-side code (exports) calls setLicenseKeys at start.
 */
export interface LicenseKeys { handsontable: string; hyperformula: string }

export const DEFAULT_LICENSE_KEYS: LicenseKeys = { handsontable: 'non-commercial-and-evaluation', hyperformula: 'gpl-v3' }

let keys: LicenseKeys | null = null

/** The keys given (empty or missing ones left out). */
const given = (k: Partial<LicenseKeys>): Partial<LicenseKeys> =>
  Object.fromEntries(Object.entries(k).filter(([name, v]) => name in DEFAULT_LICENSE_KEYS && typeof v === 'string' && v !== ''))

/** The keys given over the defaults. */
export const withDefaultKeys = (k: Partial<LicenseKeys> = {}): LicenseKeys => ({ ...DEFAULT_LICENSE_KEYS, ...given(k) })

export function setLicenseKeys(k: Partial<LicenseKeys>): void {
  keys = { ...DEFAULT_LICENSE_KEYS, ...current(), ...given(k) }
}

function fromPage(): Partial<LicenseKeys> {
  if (typeof document === 'undefined') return {}
  const raw = document.querySelector('meta[name="pw-licenses"]')?.getAttribute('content')
  if (!raw) return {}
  try {
    const v = JSON.parse(raw) as Record<string, unknown>
    const out: Partial<LicenseKeys> = {}
    if (typeof v.handsontable === 'string' && v.handsontable) out.handsontable = v.handsontable
    if (typeof v.hyperformula === 'string' && v.hyperformula) out.hyperformula = v.hyperformula
    return out
  } catch { return {} }
}

function current(): LicenseKeys {
  return keys ??= { ...DEFAULT_LICENSE_KEYS, ...fromPage() }
}

export const handsontableLicenseKey = (): string => current().handsontable
export const hyperformulaLicenseKey = (): string => current().hyperformula
/** Both keys in use (a copy), to hand on to a worker thread. */
export const licenseKeys = (): LicenseKeys => ({ ...current() })
