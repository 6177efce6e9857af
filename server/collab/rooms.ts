/**
 * The collaboration server's rooms, in one import: the manager (manager.ts), a room's state machine
 * (room.ts), its connections (connection.ts) and hooks (hooks/), close codes and options.
 */
export { RoomManager, type ManagerOptions } from './manager'
export { Room } from './room'
export { Connection, LOCAL_OWNER, type ConnectionIdentity } from './connection'
export { CLOSE, closeReason } from './close'
export {
  ActingOrigin, BUS_ORIGIN, DEFAULT_ROOM_OPTIONS, MAX_AWARENESS_CLIENTS, MAX_TITLE_LENGTH, SERVER_ORIGIN, WorkbookGoneError,
  type RoomEvents, type RoomOptions,
} from './options'
export type { RoomContext, RoomHook, RoomState } from './hooks/types'
