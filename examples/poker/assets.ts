/**
 * The page's files, held in memory: the HTML and CSS as they are on disk, and the page
 * script bundled from TypeScript with esbuild (installed with tsup and tsx) on first use,
 * so `npm start` needs no build step.
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export interface Asset {
  type: string
  body: string
}

export type Assets = ReadonlyMap<string, Asset>

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

let loading: Promise<Assets> | undefined

/** Loads and bundles the page once per process; later calls share the result. */
export function loadAssets(): Promise<Assets> {
  loading ??= load()
  return loading
}

async function load(): Promise<Assets> {
  const [html, css, icon, script] = await Promise.all([
    readFile(here('./public/index.html'), 'utf8'),
    readFile(here('./public/styles.css'), 'utf8'),
    readFile(here('./public/favicon.svg'), 'utf8'),
    bundle(here('./app.ts')),
  ])
  const page = { type: 'text/html; charset=utf-8', body: html }
  return new Map([
    ['/', page],
    ['/index.html', page],
    ['/styles.css', { type: 'text/css; charset=utf-8', body: css }],
    ['/favicon.svg', { type: 'image/svg+xml', body: icon }],
    ['/app.js', { type: 'text/javascript; charset=utf-8', body: script }],
  ])
}

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'inline',
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/** Answers a GET for one of the assets, or 404/405. */
export function serveAsset(assets: Assets, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  const asset = assets.get(path)
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end()
    return
  }
  if (!asset) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
    return
  }
  res.writeHead(200, {
    'content-type': asset.type,
    'cache-control': 'no-cache',
    ...SECURITY_HEADERS,
  })
  res.end(req.method === 'HEAD' ? undefined : asset.body)
}
