import { createPinia } from 'pinia'
import type { App } from 'vue'

export function install(app: App): void { app.use(createPinia()) }
