/**
 * A shared entry: a poker room's game state that every player may change, that outlives
 * the player who created it, and that goes away when the room empties.
 *
 * Run it with `npx tsx examples/shared-state.ts` (or `npm run example:shared-state`).
 *
 * Ordinary entries belong to the connection that tracked them: nobody else may change
 * them. The game state instead belongs to a standalone name, `game:<room>`, created with
 * `releaseWhenAlone: 'room:<room>'`: anyone may write through the name (`{ name }`, or
 * `names.update` with `ifRef` to read, decide and write without losing a concurrent
 * write), and the name with its entry is released once no player is left in the room.
 * `as` says which connection a write through the name is made for: it is what a
 * `names.canWrite` rule would check, and what rate limits count against.
 */
import { pathToFileURL } from 'node:url'
import { PresenceError, Tracker } from '../src/index.js'

type Meta = {
  role?: string
  phase?: string
  votes?: { [player: string]: number }
}

/** Runs the story, printing each step through `print`. */
export async function main(print: (line: string) => void = console.log): Promise<void> {
  const room = '42'
  const topic = `room:${room}`
  const game = `game:${room}`
  const tracker = new Tracker<Meta>({ names: true })

  tracker.on('join', ({ key, origin }) => print(`  join   ${key} (${origin})`))
  tracker.on('leave', ({ key, origin }) => print(`  leave  ${key} (${origin})`))
  tracker.on('update', ({ key, meta }) => print(`  update ${key}: ${JSON.stringify(meta)}`))

  print('1. alice and bob connect to the room')
  tracker.track('conn-alice', topic, 'alice', { role: 'player' })
  tracker.track('conn-bob', topic, 'bob', { role: 'player' })

  print(`2. alice's connection creates the game as the standalone name "${game}"`)
  tracker.names.create(game, { releaseWhenAlone: topic })
  tracker.track({ name: game }, topic, 'game', { phase: 'voting', votes: {} })

  print('3. alice votes through the name, with { name }')
  tracker.update({ name: game, as: 'conn-alice' }, topic, 'game', (prev) => ({
    ...prev,
    votes: { ...prev.votes, alice: 3 },
  }))

  print('4. bob reads the game and votes with names.update and ifRef')
  const read = tracker.get(topic, 'game')[0]!
  await tracker.names.update(
    { name: game, as: 'conn-bob' },
    topic,
    'game',
    (prev) => ({ ...prev, votes: { ...prev.votes, bob: 5 } }),
    { ifRef: read.ref },
  )

  print('5. a write based on that old read is refused')
  try {
    await tracker.names.update(
      game,
      topic,
      'game',
      { phase: 'voting', votes: {} },
      {
        ifRef: read.ref,
      },
    )
  } catch (error) {
    if (!(error instanceof PresenceError)) throw error
    print(`  refused: ${error.code}`)
  }

  print("6. alice's connection closes: the game outlives its creator")
  tracker.untrackAll('conn-alice')
  print(`  game: ${JSON.stringify(tracker.get(topic, 'game')[0]?.meta)}`)

  print('7. bob reveals the cards')
  tracker.update({ name: game, as: 'conn-bob' }, topic, 'game', (prev) => ({
    ...prev,
    phase: 'revealed',
  }))

  print('8. bob leaves: the room is empty, so the game is released')
  tracker.untrackAll('conn-bob')
  print(`  ${game} is ${tracker.names.whereis(game) === undefined ? 'released' : 'still held'}`)
  print(`  topics left: ${JSON.stringify(tracker.topics())}`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
