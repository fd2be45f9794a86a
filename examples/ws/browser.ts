/**
 * The examples' browser page: one HTML shell, and a page script bundled from TypeScript
 * with esbuild on first request, so the examples run without a build step. The ws, SSE
 * and Socket.IO examples share it; each brings its own page script.
 *
 * In your app, your bundler (Vite, esbuild, webpack, ...) resolves `rollcall/client` for
 * the browser; nothing here is needed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { build } from 'esbuild'

/** What a page shows and runs. */
export interface Page {
  title: string
  /** The page script, a TypeScript file bundled for the browser. */
  script: string
  /** Extra `<script>` tags before it (the Socket.IO client, for one). */
  head?: string
}

const bundles = new Map<string, Promise<string>>()

/** Bundles a page script once per process. */
function bundle(entry: string): Promise<string> {
  let result = bundles.get(entry)
  if (!result) {
    result = build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      logLevel: 'silent',
    }).then((output) => output.outputFiles[0]!.text)
    bundles.set(entry, result)
  }
  return result
}

function html(page: Page): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>${page.title}</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 2rem; max-width: 40rem }
  li { padding: .2rem 0 }
  .away { color: #888 }
</style>
<h1>${page.title}</h1>
<p>Open this page in another tab, or with <code>?user=bob</code>, and watch the list.</p>
<label>My status
  <select id="status"><option>online</option><option>away</option></select>
</label>
<h2 id="count">Who is here</h2>
<ul id="people"></ul>
${page.head ?? ''}
<script type="module" src="/page.js"></script>
</html>
`
}

/**
 * Answers `GET /` with the page and `GET /page.js` with its script. Returns false for
 * any other request, for the caller to answer.
 */
export function servePage(page: Page, req: IncomingMessage, res: ServerResponse): boolean {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  if (req.method !== 'GET') return false
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html(page))
    return true
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end()
    return true
  }
  if (path !== '/page.js') return false
  bundle(page.script).then(
    (script) => res.writeHead(200, { 'content-type': 'text/javascript' }).end(script),
    (error: unknown) => res.writeHead(500).end(String(error)),
  )
  return true
}

/** Answers 404. */
export function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
}
