/**
 * Licence keys of Handsontable and HyperFormula. They are configuration, not code: the server reads
 * HANDSONTABLE_LICENSE_KEY and HYPERFORMULA_LICENSE_KEY and hands them to the page (a `<meta
 * name="pw-licenses">` in index.html), so a deployment with a commercial key needs no rebuild.
 * Server-side code (exports) calls setLicenseKeys at start.
 */
export interface LicenseKeys { handsontable: string; hyperformula: string }

export const DEFAULT_LICENSE_KEYS: LicenseKeys = { handsontable: 'non-commercial-and-evaluation', hyperformula: 'gpl-v3' }

let keys: LicenseKeys | null = null

export function setLicenseKeys(k: Partial<LicenseKeys>): void {
  keys = { ...DEFAULT_LICENSE_KEYS, ...current(), ...Object.fromEntries(Object.entries(k).filter(([, v]) => typeof v === 'string' && v !== '')) }
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
