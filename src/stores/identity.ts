/** Who I am (name and colour), remembered by this browser; shown to colleagues through presence. */
import { acceptHMRUpdate, defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { i18n } from '../modules/i18n'
import { hasChosenName, loadIdentity, saveName, type Identity } from '../sync/identity'

export const useIdentityStore = defineStore('identity', () => {
  const initial = loadIdentity(n => i18n.global.t('presence.guest', { n }))
  const name = ref(initial.name)
  const color = ref(initial.color)
  const chosen = ref(hasChosenName())
  const identity = computed<Identity>(() => ({ name: name.value, color: color.value }))

  /** Keeps a new name (trimmed, capped); an empty one changes nothing. */
  function setName(next: string): boolean {
    const kept = saveName(next)
    if (!kept) return false
    name.value = kept
    chosen.value = true
    return true
  }

  return { name, color, chosen, identity, setName }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useIdentityStore, import.meta.hot))
