/**
 * Browser helpers the examples' page scripts share: who am I, draw the list, and tell me
 * when the status select changes.
 */
import type { PresenceClient } from '../../src/client/index.js'

/** What each connection attaches to its entry. */
export interface Status {
  status: string
}

/** The room and user from the page's URL (`?room=lobby&user=alice`), with defaults. */
export function identity(): { room: string; user: string } {
  const query = new URLSearchParams(location.search)
  const guest = `guest-${Math.random().toString(36).slice(2, 6)}`
  return { room: query.get('room') ?? 'lobby', user: query.get('user') ?? guest }
}

/** Draws one line per user: away only when every tab of theirs is away. */
export function render(presence: PresenceClient<Status>): void {
  const people = presence.list((user, { metas }) => ({
    user,
    away: metas.every((meta) => meta.status === 'away'),
    tabs: metas.length,
  }))
  const items = people.map(({ user, away, tabs }) => {
    const item = document.createElement('li')
    item.textContent = `${user}${tabs > 1 ? ` (${tabs} tabs)` : ''}${away ? ' (away)' : ''}`
    if (away) item.className = 'away'
    return item
  })
  document.getElementById('people')?.replaceChildren(...items)
  const count = document.getElementById('count')
  if (count) count.textContent = `${people.length} here`
}

/** Calls `send` with the new status whenever the select changes. */
export function onStatus(send: (status: string) => void): void {
  const select = document.getElementById('status') as HTMLSelectElement | null
  select?.addEventListener('change', () => send(select.value))
}
