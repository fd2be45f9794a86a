/**
 * Type-checks every ```ts and ```typescript code block of README.md and docs/*.md, so the
 * docs cannot show an API that does not compile.
 *
 *   npx tsx scripts/check-snippets.ts
 *
 * Each block becomes its own module in .snippets/ (generated, ignored by git), with
 * `rollcall`, `rollcall/client`, `rollcall/cluster`, `rollcall/redis` and
 * `rollcall/testing` mapped to src/ by a generated tsconfig, and tsc checks them all at
 * once. Errors are reported at the line of the Markdown file they come from; the exit
 * code is 1 when there is any, and .snippets/ is kept to look into (it is removed after
 * a clean run).
 *
 * A block declares what it uses but does not define (`declare const socket: WebSocket`).
 * A block whose info string says `nocheck` (```ts nocheck) is skipped: keep that for
 * pseudo-code, never for real API usage.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = join(root, '.snippets')

/** Where `import … from 'rollcall/…'` leads: the sources, not a build. */
const PACKAGES: Record<string, string> = {
  rollcall: 'src/index.ts',
  'rollcall/client': 'src/client/index.ts',
  'rollcall/cluster': 'src/cluster/index.ts',
  'rollcall/redis': 'src/transports/redis.ts',
  'rollcall/testing': 'src/testing/index.ts',
}

/** One code block: where it starts in its Markdown file, and its text. */
interface Snippet {
  /** The Markdown file, relative to the repository. */
  source: string
  /** The line of the opening fence, 1-based. */
  line: number
  code: string
  skipped: boolean
}

/** The Markdown files whose blocks are checked. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => join('docs', entry.name))
    .sort()
  return [...(existsSync(join(root, 'README.md')) ? ['README.md'] : []), ...docs]
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/

/** Whether `line` closes a block opened by `fence`: the same character, at least as many. */
function closes(line: string, fence: string): boolean {
  const text = line.trim()
  return text.length >= fence.length && text === fence[0]!.repeat(text.length)
}

/** The ts blocks of one Markdown file, with their indentation taken off. */
function extract(source: string): Snippet[] {
  const lines = readFileSync(join(root, source), 'utf8').split('\n')
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!)
    if (!open) continue
    const [, indent = '', fence = '```', , info = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j]!
      if (closes(line, fence)) break
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
    }
    const skipped = /\bnocheck\b/.test(info)
    snippets.push({ source, line: i + 1, code: body.join('\n'), skipped })
    i = j
  }
  return snippets
}

/** The module file of a snippet: its source and line, so errors lead back to them. */
function fileOf(snippet: Snippet): string {
  const base = snippet.source.replace(/[/\\]/g, '__').replace(/\.md$/, '')
  return `${base}__L${snippet.line}.ts`
}

function writeProject(snippets: Snippet[]): string {
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  for (const snippet of snippets) {
    // `export {}` makes every block a module of its own: no clashes between blocks.
    writeFileSync(join(outDir, fileOf(snippet)), `${snippet.code}\nexport {}\n`)
  }
  const paths = Object.fromEntries(
    Object.entries(PACKAGES).map(([name, path]) => [name, [relative(outDir, join(root, path))]]),
  )
  const tsconfig = {
    extends: '../tsconfig.json',
    compilerOptions: { noEmit: true, paths },
    include: ['./*.ts'],
  }
  const config = join(outDir, 'tsconfig.json')
  writeFileSync(config, `${JSON.stringify(tsconfig, null, 2)}\n`)
  return config
}

/** tsc's diagnostics, each moved to the Markdown line it comes from. */
function typeCheck(config: string, snippets: Snippet[]): string[] {
  const tsc = join(root, 'node_modules', '.bin', 'tsc')
  const result = spawnSync(tsc, ['-p', config, '--pretty', 'false'], { encoding: 'utf8' })
  if (result.error) throw result.error
  const byFile = new Map(snippets.map((snippet) => [fileOf(snippet), snippet]))
  const output = `${result.stdout}${result.stderr}`.trim()
  if (result.status === 0) return []
  const problems: string[] = []
  for (const line of output.split('\n')) {
    const at = /^(?:.*[/\\])?([^/\\]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const snippet = at && byFile.get(at[1]!)
    if (at && snippet) {
      problems.push(`${snippet.source}:${snippet.line + Number(at[2])}:${at[3]} ${at[4]}`)
    } else if (line.trim() !== '') {
      problems.push(line)
    }
  }
  return problems.length > 0 ? problems : [`tsc failed with status ${result.status}`]
}

function main(): void {
  const all = markdownFiles().flatMap(extract)
  const checked = all.filter((snippet) => !snippet.skipped)
  if (checked.length === 0) {
    console.log('No ts snippets found.')
    return
  }
  const config = writeProject(checked)
  const problems = typeCheck(config, checked)
  for (const snippet of all.filter((s) => s.skipped)) {
    console.log(`skipped (nocheck): ${snippet.source}:${snippet.line}`)
  }
  const files = new Set(checked.map((snippet) => snippet.source)).size
  if (problems.length === 0) {
    // Nothing to look into: leave no generated files behind for linters to trip on.
    rmSync(outDir, { recursive: true, force: true })
    console.log(`${checked.length} snippets in ${files} files type-check.`)
    return
  }
  for (const problem of problems) console.error(problem)
  console.error(`${problems.length} errors in ${checked.length} snippets; see .snippets/.`)
  process.exitCode = 1
}

main()
