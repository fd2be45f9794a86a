/**
 * What the example tests share: a PresenceClient per real connection, and a way to wait
 * until what it shows meets a condition, driven by its `sync` events rather than polling.
 */

import type { Status } from '../../examples/ws/page-kit.js'
import { PresenceClient } from '../../src/client/index.js'

/** How long a test waits for a client to show something before it fails. */
export const WAIT_MS = 5_000

/** A client's view of a room, as the examples' pages keep it. */
export function viewer(): PresenceClient<Status> {
  return new PresenceClient<Status>()
}

/** The users a client shows, sorted, each with the statuses of their metas. */
export function shown(presence: PresenceClient<Status>): Record<string, string[]> {
  const users: Record<string, string[]> = {}
  for (const key of Object.keys(presence.state).sort()) {
    users[key] = presence.state[key]!.metas.map((meta) => meta.status)
  }
  return users
}

/**
 * Resolves once `check` holds for what `presence` shows, checking now and after every
 * `sync`; rejects after {@link WAIT_MS}, saying what it waited for and what it saw.
 */
export function until(
  presence: PresenceClient<Status>,
  what: string,
  check: (users: Record<string, string[]>) => boolean,
): Promise<void> {
  if (check(shown(presence))) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      const seen = JSON.stringify(shown(presence))
      reject(new Error(`Waited ${WAIT_MS} ms for ${what}; the client shows ${seen}`))
    }, WAIT_MS)
    const off = presence.on('sync', () => {
      if (!check(shown(presence))) return
      clearTimeout(timer)
      off()
      resolve()
    })
  })
}
