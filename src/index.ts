export { type Clock, realClock, type TimerHandle } from './clock.js'
export { PresenceError, type PresenceErrorCode, type PresenceErrorFields } from './errors.js'
export type {
  DiffEvent,
  NameConflictEvent,
  NodeEvent,
  PresenceEvent,
  TrackerEvents,
  UpdateEvent,
} from './events.js'
export type {
  CreateNameOptions,
  NameLocation,
  Names,
  NameTarget,
  NameUpdateOptions,
} from './names.js'
export { DEFAULTS, type NamesOptions, type TrackerOptions } from './options.js'
export { type MetaUpdate, type OwnerRef, type PresenceInfo, Tracker } from './tracker.js'
export type {
  Json,
  KeyPresence,
  Logger,
  LogLevel,
  Meta,
  Origin,
  PresenceCountMessage,
  PresenceDiff,
  PresenceDiffMessage,
  PresenceMessage,
  PresenceState,
  PresenceStateMessage,
  WireMeta,
} from './types.js'
