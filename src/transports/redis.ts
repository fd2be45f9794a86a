/**
 * `rollcall/redis`: {@link RedisTransport}, a cluster transport over Redis pub/sub through
 * ioredis (an optional peer dependency: install it to use this module).
 *
 * @packageDocumentation
 * @module rollcall/redis
 */
import { Buffer } from 'node:buffer'
import { type Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Transport } from '../cluster/transport.js'
import { describe, PresenceError } from '../errors.js'
import type { Logger, LogLevel } from '../types.js'

/** An ioredis client: a single server or a Cluster. */
export type RedisClient = Redis | Cluster

/** What every form of {@link RedisTransportOptions} shares. */
export interface RedisTransportCommonOptions {
  /**
   * Put before every channel name, as `<prefix>:<channel>`, so that several clusters
   * (or apps) can share one Redis without hearing each other.
   * @default 'rollcall'
   */
  prefix?: string
  /** Where connection trouble and failing handlers are reported. Silent without one. */
  logger?: Logger
}

/** Connect to a Redis of your choosing; the transport opens and closes both connections. */
export interface RedisTransportUrlOptions extends RedisTransportCommonOptions {
  /** A Redis URL, as ioredis takes it: `redis://user:pass@host:6379/0`, `rediss://…`. */
  url: string
  /** More ioredis options for both connections (TLS, retry strategy, …). */
  redisOptions?: RedisOptions
  /** Not with `url`: pass one or the other. */
  client?: undefined
}

/** Use an existing client; the transport never closes it. */
export interface RedisTransportClientOptions extends RedisTransportCommonOptions {
  /**
   * An ioredis `Redis` or `Cluster` to publish with. The transport subscribes on its own
   * connection, made with `client.duplicate()`, and closes only that one.
   */
  client: RedisClient
  /** Not with `client`: pass one or the other. */
  url?: undefined
}

/** Options of {@link RedisTransport}: a `url` or a `client`. */
export type RedisTransportOptions = RedisTransportUrlOptions | RedisTransportClientOptions

/** The defaults of {@link RedisTransportOptions}. */
export const REDIS_TRANSPORT_DEFAULTS = {
  /** @see RedisTransportCommonOptions.prefix */
  prefix: 'rollcall',
} as const

type Handler = (data: Uint8Array) => void

/**
 * A {@link Transport} over Redis pub/sub, through ioredis. It publishes on the client it
 * is given (or one it opens from `url`) and subscribes on a second connection of its own,
 * as Redis requires. Payloads travel as binary-safe Buffers. After a dropped connection
 * ioredis reconnects and subscribes again by itself (`autoResubscribe`, on by default);
 * messages published meanwhile are lost, which the cluster protocol repairs.
 *
 * @example
 * ```ts
 * import { Tracker } from 'rollcall'
 * import { RedisTransport } from 'rollcall/redis'
 *
 * const transport = new RedisTransport({ url: process.env.REDIS_URL!, prefix: 'chat' })
 * const tracker = new Tracker({ cluster: { transport, nodeId: 'web-1' } })
 * await tracker.ready()
 *
 * // Or share the app's client; close() then leaves it open.
 * const shared = new RedisTransport({ client: app.redis })
 * ```
 */
export class RedisTransport implements Transport {
  /** The channel prefix in use. */
  readonly prefix: string
  readonly #publisher: RedisClient
  readonly #subscriber: RedisClient
  readonly #owned: RedisClient[]
  readonly #logger: Logger | undefined
  readonly #handlers = new Map<string, Set<Handler>>()
  readonly #subscriptions = new Map<string, Promise<void>>()
  #closing: Promise<void> | undefined

  constructor(options: RedisTransportOptions) {
    this.prefix = checkPrefix(options.prefix ?? REDIS_TRANSPORT_DEFAULTS.prefix)
    this.#logger = options.logger
    this.#publisher = publisherOf(options)
    this.#subscriber = this.#publisher.duplicate()
    this.#owned = options.client ? [this.#subscriber] : [this.#subscriber, this.#publisher]
    this.#listen()
  }

  /** Publishes `data` on `<prefix>:<channel>`. */
  async publish(channel: string, data: Uint8Array): Promise<void> {
    this.#checkOpen('publish')
    if (!(data instanceof Uint8Array)) {
      throw new PresenceError(
        'invalid_argument',
        `RedisTransport.publish expects a Uint8Array, got ${describe(data)}`,
      )
    }
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    await this.#publisher.publish(this.#channel(channel), payload)
  }

  /** Subscribes to `<prefix>:<channel>`; resolves once Redis confirmed it. */
  async subscribe(channel: string, onData: (data: Uint8Array) => void): Promise<void> {
    this.#checkOpen('subscribe')
    const name = this.#channel(channel)
    const handlers = this.#handlers.get(name) ?? new Set()
    const added = !handlers.has(onData)
    this.#handlers.set(name, handlers.add(onData))

    try {
      await this.#subscribed(name)
    } catch (error) {
      if (added) handlers.delete(onData)
      throw error
    }
  }

  /**
   * Stops delivery at once, then closes the subscriber connection, and the publishing one
   * if the transport opened it from a URL. A client passed in stays open.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#handlers.clear()
    this.#subscriber.off('messageBuffer', this.#onMessage)
    this.#closing = Promise.all(this.#owned.map(shutDown)).then(() => undefined)
    return this.#closing
  }

  #subscribed(name: string): Promise<void> {
    const existing = this.#subscriptions.get(name)
    if (existing) return existing

    const pending = this.#subscriber.subscribe(name).then(() => undefined)
    this.#subscriptions.set(name, pending)
    pending.catch(() => this.#subscriptions.delete(name))
    return pending
  }

  #listen(): void {
    const sub = this.#subscriber
    sub.on('messageBuffer', this.#onMessage)
    sub.on('error', (error: unknown) => this.#log('warn', 'redis subscriber error', { error }))
    sub.on('reconnecting', () => this.#log('info', 'redis subscriber reconnecting'))
    sub.on('ready', () => this.#log('debug', 'redis subscriber ready'))
    if (this.#owned.includes(this.#publisher)) {
      this.#publisher.on('error', (error: unknown) => {
        this.#log('warn', 'redis publisher error', { error })
      })
    }
  }

  readonly #onMessage = (channel: Buffer, message: Buffer): void => {
    const name = channel.toString()
    const handlers = this.#handlers.get(name)
    if (!handlers) return

    const data = new Uint8Array(message.buffer, message.byteOffset, message.byteLength)
    const list = [...handlers]
    // Every handler but the last gets a copy, so none sees what another changed.
    list.forEach((handler, i) => {
      this.#deliver(handler, i === list.length - 1 ? data : data.slice(), name)
    })
  }

  #deliver(handler: Handler, data: Uint8Array, channel: string): void {
    try {
      handler(data)
    } catch (error) {
      this.#log('error', 'a transport subscriber threw', { channel, error })
    }
  }

  #channel(channel: string): string {
    if (typeof channel !== 'string' || channel === '') {
      throw new PresenceError(
        'invalid_argument',
        `RedisTransport expects a non-empty channel name, got ${describe(channel)}`,
      )
    }
    return `${this.prefix}:${channel}`
  }

  #checkOpen(method: string): void {
    if (!this.#closing) return
    throw new PresenceError(
      'closed',
      `RedisTransport.${method} was called after close(); make a new transport`,
    )
  }

  #log(level: LogLevel, message: string, data?: object): void {
    if (this.#logger) this.#logger(level, message, { prefix: this.prefix, ...data })
  }
}

function publisherOf(options: RedisTransportOptions): RedisClient {
  const { url, client } = options as { url?: unknown; client?: unknown }
  if (options.client && url === undefined) return options.client
  if (typeof options.url === 'string' && client === undefined) {
    return new Redis(options.url, options.redisOptions ?? {})
  }
  throw new PresenceError(
    'invalid_argument',
    'RedisTransport expects exactly one of `url` (a Redis URL) or `client` (an ioredis ' +
      `Redis or Cluster), got url ${describe(url)} and client ${describe(client)}`,
  )
}

function checkPrefix(prefix: string): string {
  if (typeof prefix === 'string' && prefix !== '') return prefix
  throw new PresenceError(
    'invalid_argument',
    `RedisTransport expects a non-empty prefix, got ${describe(prefix)}`,
  )
}

/** Quits gracefully when connected, else drops the connection and its reconnect loop. */
async function shutDown(client: RedisClient): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
      return
    } catch {
      // Already going away: disconnect below makes sure it does not come back.
    }
  }
  client.disconnect()
}
