/**
 * The fields the API reads, each rule declared once (zod): JSON bodies and query strings are parsed
 * with these, so a handler gets typed values and a bad request a 400 naming the field.
 */
import { z } from 'zod'
import { cleanPersonName, ROLES } from '../../src/core/access/access'
import { LOCALES, type Locale } from '../../src/core/templates/template'
import { MAX_TITLE_LENGTH } from '../collab/rooms'
import { isTimeZone } from '../../src/core/workbook/zone'

export const DEFAULT_LOCALE: Locale = 'zh-CN'

const CONTROL = /[\u0000-\u001f\u007f]/g
const missingOr = (message: string) => (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : message)

/** A workbook title: control characters become spaces, trimmed, at most MAX_TITLE_LENGTH characters. */
export const title = z.string({ error: 'must be a string' })
  .overwrite(v => v.replace(CONTROL, ' ').trim())
  .max(MAX_TITLE_LENGTH, { error: `must be at most ${MAX_TITLE_LENGTH} characters` })
export const requiredTitle = z.string({ error: missingOr('must be a string') })
  .overwrite(v => v.replace(CONTROL, ' ').trim())
  .max(MAX_TITLE_LENGTH, { error: `must be at most ${MAX_TITLE_LENGTH} characters` })
  .min(1, { error: 'must not be empty' })

const NAME_MAX = 200
/** A person's name as links and the owner carry it (cleaned; at most 80 characters kept); absent: ''. */
export const name = z.string({ error: 'must be a string' })
  .max(NAME_MAX, { error: `must be at most ${NAME_MAX} characters` })
  .nullish()
  .transform(v => cleanPersonName(v ?? ''))
export const requiredName = z.string({ error: missingOr('must be a string') })
  .max(NAME_MAX, { error: `must be at most ${NAME_MAX} characters` })
  .transform(v => cleanPersonName(v))
  .refine(v => v !== '', { error: 'must not be empty' })

/** The workbook's time zone (TODAY and NOW): an IANA name the runtime knows; absent: Asia/Shanghai. */
export const timeZone = z.string({ error: 'must be a string' })
  .refine(isTimeZone, { error: 'must be a time zone such as Asia/Shanghai' })
  .optional()

/** The language of what is made or listed; absent or empty: the default. */
export const locale = z.preprocess(
  v => (v === '' || v === null ? undefined : v),
  z.enum(LOCALES as readonly [Locale, ...Locale[]], { error: `must be one of ${LOCALES.join(', ')}` }).default(DEFAULT_LOCALE),
)

export const role = z.enum(ROLES as readonly [typeof ROLES[number], ...typeof ROLES[number][]], { error: `must be one of ${ROLES.join(', ')}` })

/** What the owner is called when a new workbook's request names no one. */
export const ownerName = (given: string, lang: Locale) => given || (lang === 'en' ? 'Owner' : '所有者')

/** A JSON object body: its fields read by `shape`, other keys ignored. */
export const body = <T extends z.ZodRawShape>(shape: T) => z.object(shape, { error: 'request body must be a JSON object' })
