import { createRouter, createWebHistory } from 'vue-router'
import type { App } from 'vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: () => import('../pages/HomePage.vue') },
    // the grid, formula engine and sync load only with this page
    // the review pack: values only, no grid or engine
    // mentions, assignments and replies across every workbook this browser holds links for
    { path: '/inbox', name: 'inbox', component: () => import('../pages/InboxPage.vue') },
    // a person's fill-in form (收集表): their rows of one round, with the form link's token
    { path: '/f/:id/:rid', name: 'form', component: () => import('../pages/FormPage.vue'), props: true },
    { path: '/w/:id/print', name: 'print', component: () => import('../pages/PrintPage.vue'), props: true },
    { path: '/w/:id', name: 'workbook', component: () => import('../pages/WorkbookPage.vue'), props: true },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

export function install(app: App): void { app.use(router) }
