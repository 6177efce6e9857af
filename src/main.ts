import { createApp } from 'vue'
import App from './App.vue'
import { install as installPinia } from './modules/pinia'
import { install as installI18n } from './modules/i18n'
import { install as installRouter } from './modules/router'
import './styles.css'

const app = createApp(App)
// order matters: stores and messages exist before the first route renders
installPinia(app)
installI18n(app)
installRouter(app)
app.mount('#app')
