/**
 * The planning-poker page in headless Chromium: three people in three browser contexts
 * (separate storage, as three machines), one server. Screenshots of every step go to
 * test-artifacts/. Run with `npm run test:browser`; Chromium must be at /usr/bin/chromium
 * (or CHROMIUM_PATH): a missing one fails the suite with how to install it.
 */
import { mkdir } from 'node:fs/promises'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { joinAs, launchChromium, pick, seat } from '../../examples/poker/browser.js'
import { type PokerServer, startServer } from '../../examples/poker/server.js'

const ARTIFACTS = 'test-artifacts'
const GRACE_MS = 500
const ROOM = 'browser-test'

let server: PokerServer
let browser: Browser

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  server = await startServer({ port: 0, host: '127.0.0.1', graceMs: GRACE_MS })
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

async function context(options: Parameters<Browser['newContext']>[0] = {}) {
  const created: BrowserContext = await browser.newContext({ reducedMotion: 'reduce', ...options })
  created.setDefaultTimeout(10_000)
  return created
}

async function snap(pages: Record<string, Page>, step: string): Promise<void> {
  for (const [name, page] of Object.entries(pages)) {
    if (!page.isClosed()) await page.screenshot({ path: `${ARTIFACTS}/poker-${step}-${name}.png` })
  }
}

async function names(page: Page): Promise<string[]> {
  return page.locator('.seat .name').allTextContents()
}

async function cardOf(page: Page, name: string) {
  const card = seat(page, name).locator('.played')
  return { state: await card.getAttribute('data-state'), face: await card.textContent() }
}

describe('the planning-poker page', () => {
  it('seats three people who vote blind, reveal together, and outlast the creator', async () => {
    const laptop = await context({ viewport: { width: 1200, height: 800 } })
    const phone = await context({ viewport: { width: 390, height: 844 }, isMobile: true })
    const desktop = await context()
    const alice = await joinAs(laptop, server.url, ROOM, 'Alice')
    const pages: Record<string, Page> = { alice }
    onTestFailed(() => snap(pages, 'failed'))

    await alice.getByLabel('Task to estimate').fill('Password reset e-mail')
    await alice.getByRole('button', { name: 'Set task' }).click()
    pages.bob = await joinAs(phone, server.url, ROOM, 'Bob')
    pages.carol = await joinAs(desktop, server.url, ROOM, 'Carol')
    const { bob, carol } = pages as Record<'bob' | 'carol', Page>

    for (const page of [alice, bob, carol]) {
      await page.locator('.seat').nth(2).waitFor()
      expect(await names(page)).toEqual(['Alice', 'Bob', 'Carol'])
      await page.getByRole('heading', { name: 'Password reset e-mail' }).waitFor()
    }

    await pick(alice, '3')
    await pick(bob, '8')
    await pick(carol, '5')
    for (const page of [alice, bob, carol]) await page.getByText('3 of 3 voted').waitFor()
    expect(await cardOf(bob, 'Alice')).toEqual({ state: 'hidden', face: '✓' })
    for (const page of [alice, bob, carol]) {
      expect(await page.locator('.played[data-state="shown"]').count()).toBe(0)
    }
    await snap(pages, '1-voting')

    await carol.getByRole('button', { name: 'Reveal cards' }).click()
    const votes = { Alice: '3', Bob: '8', Carol: '5' }
    for (const page of [alice, bob, carol]) {
      await seat(page, 'Alice').locator('.played[data-state="shown"]').waitFor()
      for (const [name, vote] of Object.entries(votes)) {
        expect(await cardOf(page, name)).toEqual({ state: 'shown', face: vote })
      }
      await page.getByText('Average 5.3').waitFor()
    }
    await snap(pages, '2-revealed')

    await bob.reload()
    await seat(bob, 'Alice').locator('.played[data-state="shown"]').waitFor()
    expect(await names(bob)).toEqual(['Alice', 'Bob', 'Carol'])
    expect(await names(carol)).toEqual(['Alice', 'Bob', 'Carol'])
    await bob.locator('#hand button[data-card="8"][aria-pressed="true"]').waitFor()

    await alice.close()
    for (const page of [bob, carol]) {
      await page
        .locator('.seat')
        .nth(2)
        .waitFor({ state: 'detached', timeout: GRACE_MS + 5_000 })
      expect(await names(page)).toEqual(['Bob', 'Carol'])
      await page.getByRole('heading', { name: 'Password reset e-mail' }).waitFor()
      expect(await cardOf(page, 'Carol')).toEqual({ state: 'shown', face: '5' })
    }
    await snap(pages, '3-creator-left')

    await bob.getByRole('button', { name: 'New round' }).click()
    await carol.locator('#round', { hasText: '2' }).waitFor()
    expect(await cardOf(carol, 'Bob')).toEqual({ state: 'empty', face: '' })
    expect(await carol.locator('#hand button[aria-pressed="true"]').count()).toBe(0)
    await snap(pages, '4-new-round')
  })
})
