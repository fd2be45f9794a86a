// Measures what `rollcall/client` costs a browser bundle: src/client/index.ts bundled and
// minified by esbuild (as an app's bundler would, with nothing external), then gzipped.
// Prints one line and exits with 1 when the result is over the limit.
//
//   node scripts/size.mjs
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const LIMIT = 3072
const entry = fileURLToPath(new URL('../src/client/index.ts', import.meta.url))

const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  write: false,
})
const bytes = gzipSync(result.outputFiles[0].contents, { level: 9 }).length
const format = (n) => n.toLocaleString('en-US')

console.log(`rollcall/client: ${format(bytes)} bytes min+gzip (limit ${format(LIMIT)})`)
if (bytes > LIMIT) {
  console.error(`rollcall/client is ${format(bytes - LIMIT)} bytes over its limit`)
  process.exitCode = 1
}
