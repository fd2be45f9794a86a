// Types for the parts of the `phoenix` npm package (which ships none) that the client's
// tests and benchmarks compare against.
declare module 'phoenix' {
  import type { KeyPresence, Meta, PresenceDiff, PresenceState } from '../../src/types.js'

  type Join<M extends object> = (
    key: string,
    current: KeyPresence<M> | undefined,
    joined: KeyPresence<M>,
  ) => void
  type Leave<M extends object> = (
    key: string,
    current: KeyPresence<M>,
    left: KeyPresence<M>,
  ) => void
  type Chooser<M extends object, T> = (key: string, presence: KeyPresence<M>) => T

  /** What `Presence` needs of a channel. */
  export interface PresenceChannel {
    on(event: string, callback: (payload: never) => void): unknown
    joinRef(): string | null
  }

  export class Presence<M extends object = Meta> {
    constructor(channel: PresenceChannel, opts?: { events?: { state: string; diff: string } })
    onJoin(callback: Join<M>): void
    onLeave(callback: Leave<M>): void
    onSync(callback: () => void): void
    list<T = KeyPresence<M>>(chooser?: Chooser<M, T>): T[]
    inPendingSyncState(): boolean
    static syncState<M extends object>(
      current: PresenceState<M>,
      next: PresenceState<M>,
      onJoin?: Join<M>,
      onLeave?: Leave<M>,
    ): PresenceState<M>
    static syncDiff<M extends object>(
      state: PresenceState<M>,
      diff: PresenceDiff<M>,
      onJoin?: Join<M>,
      onLeave?: Leave<M>,
    ): PresenceState<M>
    static list<M extends object, T = KeyPresence<M>>(
      state: PresenceState<M>,
      chooser?: Chooser<M, T>,
    ): T[]
  }
}
