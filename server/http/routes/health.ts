/** GET /api/health: the store and (when configured) Redis; 200 while workbooks can be served, 503 when the store cannot. */
import type { Route } from '../context'
import { sendJson } from '../util'

export const healthRoutes: Route[] = [
  {
    pattern: /^\/api\/health$/,
    methods: {
      GET: async (_req, res, _url, ctx) => {
        let store: 'up' | 'down' = 'up'
        try { await ctx.store.ping() } catch { store = 'down' }
        const redis = ctx.rooms.bus ? ctx.rooms.bus.status() : 'off'
        const { rooms, resting } = ctx.rooms.stats()
        // rooms: workbooks loaded; resting: of those, the ones kept encoded (quiet for REST_AFTER_MS)
        sendJson(res, store === 'up' ? 200 : 503, { ok: store === 'up', store, redis, rooms, resting })
      },
    },
  },
]
