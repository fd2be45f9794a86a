/** The knobs of a load run, their defaults, and the command line that sets them. */
import { parseArgs } from 'node:util'

export interface LoadOptions {
  /** How long the clients act once everyone is seated. */
  seconds: number
  connections: number
  rooms: number
  /** The most scripted steps (votes, tasks, leaves, flaps, ...) of the whole run. */
  actions: number
  /** Steps per second the clients aim at together; each waits ~connections/rate s. */
  rate: number
  /** The server's grace period for dropped sockets (the demo's default is 15,000). */
  graceMs: number
  /** How long a room votes before somebody reveals (revealed rounds last a quarter). */
  roundMs: number
  /** Sockets opened per second while the rooms fill up. */
  connectRate: number
  seed: number
}

export const LOAD_DEFAULTS: LoadOptions = {
  seconds: 30,
  connections: 2000,
  rooms: 20,
  actions: 20_000,
  rate: 200,
  graceMs: 3000,
  roundMs: 8000,
  connectRate: 500,
  seed: 1,
}

const FLAGS = {
  seconds: 'seconds',
  connections: 'connections',
  rooms: 'rooms',
  actions: 'actions',
  rate: 'rate',
  'grace-ms': 'graceMs',
  'round-ms': 'roundMs',
  'connect-rate': 'connectRate',
  seed: 'seed',
} as const satisfies Record<string, keyof LoadOptions>

export const USAGE = `npm run load -- [--seconds 30] [--connections 2000] [--rooms 20]
  [--actions 20000] [--rate 200] [--grace-ms 3000] [--round-ms 8000]
  [--connect-rate 500] [--seed 1]`

/** Reads the flags; throws with the usage on a bad one. */
export function parseOptions(argv: string[]): LoadOptions {
  const flags = Object.fromEntries(
    Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }]),
  )
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({ args: argv, options: flags, strict: true }).values
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : error}\n${USAGE}`)
  }
  const options = { ...LOAD_DEFAULTS }
  for (const [flag, key] of Object.entries(FLAGS)) {
    const text = values[flag]
    if (text === undefined) continue
    const value = Number(text)
    if (!Number.isFinite(value) || value <= 0 || (key !== 'seconds' && !Number.isInteger(value))) {
      throw new Error(`Expected --${flag} to be a positive number, got "${text}".\n${USAGE}`)
    }
    options[key] = value
  }
  if (options.rooms > options.connections) {
    throw new Error(`Expected --rooms (${options.rooms}) <= --connections.\n${USAGE}`)
  }
  return options
}
