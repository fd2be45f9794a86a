import { afterEach, describe, expect, it, vi } from 'vitest'
import { requireRedis } from '../helpers/redis.js'

// Port 1 is reserved (tcpmux) and never runs Redis, so the connection is refused at once.
const NOWHERE = 'redis://127.0.0.1:1'

describe('requireRedis', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('fails under CI=true with a message naming the job to fix', async () => {
    vi.stubEnv('CI', 'true')
    await expect(requireRedis(NOWHERE)).rejects.toThrow(
      /Redis is required under CI=true but is unreachable at redis:\/\/127\.0\.0\.1:1/,
    )
  })

  it('fails outside CI too, saying how to start a Redis', async () => {
    vi.stubEnv('CI', '')
    await expect(requireRedis(NOWHERE)).rejects.toThrow(
      'Start one with `redis-server --daemonize yes --port 6379 --save ""`',
    )
  })

  it('resolves with the url when Redis answers', async () => {
    await expect(requireRedis()).resolves.toMatch(/^rediss?:\/\//)
  })
})
