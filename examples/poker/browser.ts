/**
 * Driving the page in headless Chromium, for the browser test and the README screenshot.
 * Chromium is the system one (Debian: `apt-get install -y chromium`), started by
 * playwright-core, so no browser is downloaded.
 */
import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/**
 * Launches Chromium with a fresh temporary profile, or throws a message that says how to
 * install it. Never a silent skip: a test that needs a browser and has none has failed.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    const ci = process.env.CI === 'true' ? 'CI=true: the CI image must provide it. ' : ''
    throw new Error(
      `Chromium is required at ${CHROMIUM_PATH} but is missing. ${ci}` +
        'Install it with `apt-get install -y chromium` (after `apt-get update`), or point ' +
        'CHROMIUM_PATH at a Chromium or Chrome binary.',
    )
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
}

/** Opens the room in a page of `context` and joins it as `name`. */
export async function joinAs(
  context: BrowserContext,
  url: string,
  room: string,
  name: string,
): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${url}/#${room}`)
  await page.getByLabel('Your name').fill(name)
  await page.getByRole('button', { name: 'Join' }).click()
  await page.locator('.seat', { hasText: name }).waitFor()
  return page
}

/** The seat of `name` at the table. */
export function seat(page: Page, name: string) {
  return page.locator('.seat', { has: page.locator('.name', { hasText: name }) })
}

/** Picks a card from the hand and waits until the server has it. */
export async function pick(page: Page, card: string): Promise<void> {
  const button = page.locator(`#hand button[data-card="${card}"]`)
  await button.click()
  await page.locator(`#hand button[data-card="${card}"][aria-pressed="true"]`).waitFor()
}
