/**
 * `npm run load`: the planning-poker demo under load. Starts the demo server in its own
 * process, opens the connections from this one, prints the figures and the checks, and
 * exits non-zero when a check fails. See docs/load.md.
 */
import { runLoad } from './load.js'
import { parseOptions } from './options.js'
import { formatReport } from './report.js'

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  console.log(
    `Starting: ${options.connections} connections, ${options.rooms} rooms, ` +
      `${options.seconds} s after the ramp...`,
  )
  const result = await runLoad(options)
  console.log(formatReport(result))
  return result.passed ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(2)
  },
)
