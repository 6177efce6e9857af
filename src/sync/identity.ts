/**
 * Who I am in a workbook: a display name and a colour, remembered by this browser (localStorage).
 * The name is mine to set; until then a friendly default with a short number stands in.
 */

/** Distinct, readable on white, and distinguishable from the grid's status colours. */
export const PRESENCE_COLORS = ['#1a73e8', '#e8710a', '#9334e6', '#188038', '#d01884', '#12858c', '#b06000', '#5f6bd6', '#c5221f', '#3b7d23'] as const

const NAME_KEY = 'pw.name'
const COLOR_KEY = 'pw.color'
export const MAX_NAME_LENGTH = 40

export interface Identity { name: string; color: string }

function storage(): Storage | null {
  try { return typeof localStorage === 'undefined' ? null : localStorage } catch { return null }
}

/** Trims, drops control characters and caps the length; '' when nothing is left. */
export function cleanName(name: unknown): string {
  return typeof name === 'string' ? name.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME_LENGTH) : ''
}

export function isColor(c: unknown): c is string {
  return typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c)
}

/** The remembered identity, creating (and remembering) a default one the first time. */
export function loadIdentity(defaultName: (n: number) => string, random = Math.random): Identity {
  const s = storage()
  let color = s?.getItem(COLOR_KEY) ?? ''
  if (!isColor(color)) {
    color = PRESENCE_COLORS[Math.floor(random() * PRESENCE_COLORS.length)]!
    s?.setItem(COLOR_KEY, color)
  }
  const name = cleanName(s?.getItem(NAME_KEY)) || defaultName(100 + Math.floor(random() * 900))
  return { name, color }
}

/** Remembers a name the person chose; returns what was kept ('' keeps the old one). */
export function saveName(name: string): string {
  const n = cleanName(name)
  if (n) storage()?.setItem(NAME_KEY, n)
  return n
}

/** Whether the person has chosen a name (rather than the default). */
export function hasChosenName(): boolean {
  return !!cleanName(storage()?.getItem(NAME_KEY))
}

/** Up to two letters for an avatar: the first two of a CJK name's last characters, or initials. */
export function initials(name: string): string {
  const n = name.trim()
  if (!n) return '?'
  if (/[\u3400-\u9fff]/.test(n)) return Array.from(n.replace(/\s+/g, '')).slice(-2).join('')
  const words = n.split(/\s+/).filter(Boolean)
  return (words.length > 1 ? words[0]![0]! + words[words.length - 1]![0]! : Array.from(words[0]!).slice(0, 2).join('')).toUpperCase()
}
