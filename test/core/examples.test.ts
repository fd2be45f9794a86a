import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { main } from '../../examples/shared-state.js'

describe('examples/shared-state.ts', () => {
  it('tells the story of a shared game state, step by step', async () => {
    const lines: string[] = []
    await main((line) => lines.push(line))

    const voted = '{"phase":"voting","votes":{"alice":3,"bob":5}}'
    expect(lines).toEqual([
      '1. alice and bob connect to the room',
      '  join   alice (local)',
      '  join   bob (local)',
      '2. alice\'s connection creates the game as the standalone name "game:42"',
      '  join   game (local)',
      '3. alice votes through the name, with { name }',
      '  update game: {"phase":"voting","votes":{"alice":3}}',
      '4. bob reads the game and votes with names.update and ifRef',
      `  update game: ${voted}`,
      '5. a write based on that old read is refused',
      '  refused: stale',
      "6. alice's connection closes: the game outlives its creator",
      '  leave  alice (local)',
      `  game: ${voted}`,
      '7. bob reveals the cards',
      '  update game: {"phase":"revealed","votes":{"alice":3,"bob":5}}',
      '8. bob leaves: the room is empty, so the game is released',
      '  leave  bob (local)',
      '  leave  game (local)',
      '  game:42 is released',
      '  topics left: []',
    ])
  })

  it('runs on its own and prints the same story', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'examples/shared-state.ts'], {
      encoding: 'utf8',
    })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe('1. alice and bob connect to the room')
    expect(lines).toContain('  refused: stale')
    expect(lines.at(-2)).toBe('  game:42 is released')
  })
})
