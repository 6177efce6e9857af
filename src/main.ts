import { createApp } from 'vue'
import App from './App.vue'
import { install as installPinia } from './modules/pinia'
import { install as installI18n } from './modules/i18n'
import { install as installRouter } from './modules/router'
import './styles.css'

// the build puts the boot script first in the page (vite.config.ts); the development server does not
if (import.meta.env.DEV) void import('./boot')

const app = createApp(App)
// order matters: stores and messages exist before the first route renders
installPinia(app)
installI18n(app)
installRouter(app)
app.mount('#app')

// the app's files stay in the browser, so a workbook opened before opens offline (production builds only)
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { type: 'module' }).catch((e: unknown) => console.warn('offline support unavailable:', e))
  })
}
