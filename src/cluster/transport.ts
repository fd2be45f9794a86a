/**
 * What the cluster needs from a message bus, and nothing more: publish bytes to a named
 * channel, hear the bytes published to the channels it subscribed to, and stop.
 *
 * Implementations are thin adapters over an existing engine (`RedisTransport` in
 * `rollcall/redis`, `MemoryNetwork` in `rollcall/testing`). The tracker uses two
 * channels per cluster, `all` and `node:<id>`; an implementation adds its own prefix.
 *
 * Delivery is at most once and best effort: a message may be dropped, and across a
 * reconnect it may also arrive twice or out of order. Messages from one publisher on one
 * channel arrive in the order they were published while the connection holds. The
 * cluster protocol repairs every gap with heartbeats and transfers, so a transport never
 * retries or acknowledges anything.
 *
 * A node hears its own publishes on the channels it subscribed to, as with Redis pub/sub;
 * the tracker filters them out by node id.
 */
export interface Transport {
  /**
   * Sends `data` to every current subscriber of `channel`, this transport included.
   * Resolves once the message is handed to the engine, not when it is delivered; the
   * caller may reuse `data` after that. Rejects with a `PresenceError` of code `closed`
   * after {@link Transport.close}, and with the engine's error when it refuses the
   * message.
   */
  publish(channel: string, data: Uint8Array): Promise<void>

  /**
   * Calls `onData` with every message published to `channel` from now on, resolving
   * once the subscription is in place. Idempotent: subscribing the same handler to the
   * same channel again changes nothing and never makes a message arrive twice. A second,
   * different handler on the same channel is called too. A handler receives its own
   * copy of the bytes. Rejects with a `PresenceError` of code `closed` after
   * {@link Transport.close}.
   */
  subscribe(channel: string, onData: (data: Uint8Array) => void): Promise<void>

  /**
   * Stops delivery at once and releases what the transport opened (never what it was
   * given). Idempotent. After it, `publish` and `subscribe` reject with code `closed`.
   */
  close(): Promise<void>
}
