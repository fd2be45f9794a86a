import { Redis } from 'ioredis'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Transport } from '../../src/cluster/transport.js'
import { PresenceError } from '../../src/errors.js'
import { RedisTransport } from '../../src/transports/redis.js'
import type { LogLevel } from '../../src/types.js'
import { rawClient, requireRedis, uniquePrefix } from '../helpers/redis.js'
import { describeTransport } from './conformance.js'

let url = ''

beforeAll(async () => {
  url = await requireRedis()
})

describeTransport('RedisTransport from a url', async () => {
  const prefix = uniquePrefix('conf-url')
  const a = new RedisTransport({ url, prefix })
  const b = new RedisTransport({ url, prefix })
  return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) }
})

describeTransport('RedisTransport on existing clients', async () => {
  const prefix = uniquePrefix('conf-client')
  const clients = [rawClient(), rawClient()] as const
  const a = new RedisTransport({ client: clients[0], prefix })
  const b = new RedisTransport({ client: clients[1], prefix })
  return {
    a,
    b,
    cleanup: async () => {
      await Promise.all([a.close(), b.close()])
      await Promise.all(clients.map((client) => client.quit()))
    },
  }
})

/** Everything a test opened, closed after it whatever happened. */
const opened: Array<Transport | Redis> = []

function track<T extends Transport | Redis>(thing: T): T {
  opened.push(thing)
  return thing
}

afterEach(async () => {
  const all = opened.splice(0)
  await Promise.all(
    all.map((thing) => (thing instanceof Redis ? thing.quit().catch(() => {}) : thing.close())),
  )
})

async function waitFor(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The ids of the server-side connections whose name is `name`. */
async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  const list = (await admin.client('LIST')) as string
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1] ?? '')
}

describe('RedisTransport', () => {
  it('publishes on <prefix>:<channel>', async () => {
    const prefix = uniquePrefix('naming')
    const transport = track(new RedisTransport({ url, prefix }))
    const listener = track(rawClient())
    const heard: Array<[string, number[]]> = []
    listener.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      heard.push([channel.toString(), [...message]])
    })
    await listener.subscribe(`${prefix}:all`, `${prefix}:node:a`)

    await transport.publish('all', Uint8Array.of(1, 2))
    await transport.publish('node:a', Uint8Array.of(3))

    await waitFor(() => heard.length === 2, 'both messages on the raw connection')
    expect(heard).toEqual([
      [`${prefix}:all`, [1, 2]],
      [`${prefix}:node:a`, [3]],
    ])
  })

  it('uses the prefix rollcall by default', () => {
    const transport = track(new RedisTransport({ url }))
    expect(transport.prefix).toBe('rollcall')
  })

  it('keeps two prefixes on one Redis apart', async () => {
    const [one, two] = [uniquePrefix('one'), uniquePrefix('two')]
    const a1 = track(new RedisTransport({ url, prefix: one }))
    const b1 = track(new RedisTransport({ url, prefix: one }))
    const b2 = track(new RedisTransport({ url, prefix: two }))
    const inOne: number[] = []
    const inTwo: number[] = []
    await b1.subscribe('all', (data) => inOne.push(data[0]!))
    await b2.subscribe('all', (data) => inTwo.push(data[0]!))

    await a1.publish('all', Uint8Array.of(1))
    await a1.publish('all', Uint8Array.of(2))

    await waitFor(() => inOne.length === 2, 'delivery within the prefix')
    expect(inOne).toEqual([1, 2])
    expect(inTwo).toEqual([])
  })

  it('resubscribes after its subscriber connection is killed', async () => {
    const prefix = uniquePrefix('reconnect')
    const logs: Array<[LogLevel, string]> = []
    const client = track(new Redis(url, { connectionName: prefix, retryStrategy: () => 10 }))
    const transport = track(
      new RedisTransport({
        client,
        prefix,
        logger: (level, message) => logs.push([level, message]),
      }),
    )
    const admin = track(rawClient())
    const got: number[] = []
    await transport.subscribe('all', (data) => got.push(data[0]!))
    await transport.publish('all', Uint8Array.of(1))
    await waitFor(() => got.length === 1, 'delivery before the kill')

    // Only this test's subscriber: other suites may share the Redis.
    const subscribers = await connectionIds(admin, prefix)
    for (const id of subscribers) await admin.client('KILL', 'ID', id, 'SKIPME', 'yes')

    let sent = 1
    await waitFor(() => {
      if (got.length === 1) void transport.publish('all', Uint8Array.of(++sent))
      return got.length > 1
    }, 'delivery after the reconnect')
    expect(got[1]).toBeGreaterThan(1)
    expect(logs.some(([, message]) => message.includes('reconnecting'))).toBe(true)
    expect(client.status).toBe('ready')
  })

  it('leaves a client it was given open, and closes only its own connection', async () => {
    const prefix = uniquePrefix('given')
    const admin = track(rawClient())
    const client = track(new Redis(url, { connectionName: prefix }))
    const transport = new RedisTransport({ client, prefix })
    await transport.subscribe('all', () => {})
    expect(await connectionIds(admin, prefix)).toHaveLength(2)

    await transport.close()

    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
    await expectConnections(admin, prefix, 1)
  })

  it('closes both connections it opened from a url', async () => {
    const prefix = uniquePrefix('owned')
    const admin = track(rawClient())
    const transport = new RedisTransport({ url, prefix, redisOptions: { connectionName: prefix } })
    await transport.subscribe('all', () => {})
    await transport.publish('all', Uint8Array.of(1))
    expect(await connectionIds(admin, prefix)).toHaveLength(2)

    await transport.close()

    await expectConnections(admin, prefix, 0)
  })

  it('reports a throwing handler to the logger and still serves the others', async () => {
    const prefix = uniquePrefix('throws')
    const logs: Array<[LogLevel, string, object?]> = []
    const transport = track(
      new RedisTransport({ url, prefix, logger: (...entry) => logs.push(entry) }),
    )
    const got: number[] = []
    await transport.subscribe('all', () => {
      throw new Error('boom')
    })
    await transport.subscribe('all', (data) => got.push(data[0]!))

    await transport.publish('all', Uint8Array.of(4))

    await waitFor(() => got.length === 1, 'the second handler')
    const entry = logs.find(([level]) => level === 'error')
    expect(entry?.[1]).toBe('a transport subscriber threw')
    expect(entry?.[2]).toMatchObject({ channel: `${prefix}:all`, prefix })
  })

  it('refuses options without exactly one of url and client, or with an empty prefix', () => {
    const attempt = (options: unknown) => () =>
      new RedisTransport(options as ConstructorParameters<typeof RedisTransport>[0])
    const client = track(rawClient())

    expect(attempt({})).toThrow(PresenceError)
    expect(attempt({ url, client })).toThrow(/exactly one of `url`/)
    expect(attempt({ url, prefix: '' })).toThrow(/non-empty prefix/)
  })

  it('refuses a payload that is not bytes', async () => {
    const transport = track(new RedisTransport({ url, prefix: uniquePrefix('bytes') }))
    const publish = transport.publish as (channel: string, data: unknown) => Promise<void>

    await expect(publish.call(transport, 'all', 'text')).rejects.toMatchObject({
      code: 'invalid_argument',
    })
  })
})

/** Waits until exactly `count` connections named `name` remain on the server. */
async function expectConnections(admin: Redis, name: string, count: number): Promise<void> {
  const settled = async () => (await connectionIds(admin, name)).length === count
  await waitFor(settled, `${count} connections named ${name}`).catch(() => {})
  expect(await connectionIds(admin, name)).toHaveLength(count)
}
