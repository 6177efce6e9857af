import { createI18n } from 'vue-i18n'
import type { App } from 'vue'
import zhCN from '../locales/zh-CN.json'
import en from '../locales/en.json'

export type AppLocale = 'zh-CN' | 'en'
export const LOCALES: { code: AppLocale; label: string }[] = [
  { code: 'zh-CN', label: '中文' },
  { code: 'en', label: 'English' },
]
const STORAGE_KEY = 'pw.locale'

/** The saved choice, else the browser's languages: any Chinese → zh-CN, else English, else zh-CN. */
export function initialLocale(): AppLocale {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY)
  if (saved === 'zh-CN' || saved === 'en') return saved
  const langs = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? 'zh-CN']
  for (const l of langs) {
    if (/^zh\b/i.test(l)) return 'zh-CN'
    if (/^en\b/i.test(l)) return 'en'
  }
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: { 'zh-CN': zhCN, en },
})

export function setLocale(locale: AppLocale): void {
  i18n.global.locale.value = locale
  globalThis.localStorage?.setItem(STORAGE_KEY, locale)
  document.documentElement.lang = locale
}

export function install(app: App): void {
  app.use(i18n)
  document.documentElement.lang = i18n.global.locale.value
}
