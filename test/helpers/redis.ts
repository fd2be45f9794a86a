import { Redis } from 'ioredis'

/** The Redis the integration tests use: `REDIS_URL`, else a local default. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const START_HINT = 'redis-server --daemonize yes --port 6379 --save ""'

/**
 * Resolves with the URL of a reachable Redis, or fails the calling hook with a message
 * saying what to do. There is no silent skip: under `CI=true` a missing Redis is a broken
 * pipeline, and on a laptop the message says how to start one.
 */
export async function requireRedis(url: string = REDIS_URL): Promise<string> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  probe.on('error', () => {})
  try {
    await probe.connect()
    await probe.ping()
    return url
  } catch (error) {
    throw new Error(unreachableMessage(url, error))
  } finally {
    probe.disconnect()
  }
}

function unreachableMessage(url: string, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error)
  if (process.env.CI === 'true') {
    return (
      `Redis is required under CI=true but is unreachable at ${url} (${why}). ` +
      'Add a Redis service to the CI job or set REDIS_URL.'
    )
  }
  return (
    `Redis is unreachable at ${url} (${why}). Start one with \`${START_HINT}\`, ` +
    'or point REDIS_URL at one, then run the tests again.'
  )
}

/** A prefix no other test run uses, so parallel runs on one Redis never cross. */
export function uniquePrefix(label = 'test'): string {
  return `rollcall-${label}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`
}

/** A plain ioredis connection for a test's own checks; the caller closes it. */
export function rawClient(): Redis {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  return client
}
