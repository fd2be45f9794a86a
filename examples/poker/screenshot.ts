/**
 * Makes the README's screenshot: three people at one table, cards revealed, on a laptop
 * (docs/poker.png, 1200x800), and the same table on a phone (test-artifacts/).
 *
 *   npx tsx examples/poker/screenshot.ts
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { joinAs, launchChromium, pick, seat } from './browser.js'
import { startServer } from './server.js'

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))

const ROOM = 'sprint-42'
const TASK = 'Checkout: pay with a saved card'

async function main(): Promise<void> {
  const server = await startServer({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium()
  try {
    const look = { colorScheme: 'light', reducedMotion: 'reduce' } as const
    const laptop = await browser.newContext({ ...look, viewport: { width: 1200, height: 800 } })
    const phone = await browser.newContext({
      ...look,
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    const other = await browser.newContext(look)

    const maya = await joinAs(laptop, server.url, ROOM, 'Maya Chen')
    await maya.getByLabel('Task to estimate').fill(TASK)
    await maya.getByRole('button', { name: 'Set task' }).click()
    const jonas = await joinAs(phone, server.url, ROOM, 'Jonas')
    const priya = await joinAs(other, server.url, ROOM, 'Priya')

    await pick(maya, '5')
    await pick(jonas, '8')
    await pick(priya, '5')
    await maya.getByRole('button', { name: 'Reveal cards' }).click()
    for (const page of [maya, jonas]) {
      await seat(page, 'Jonas').locator('.played[data-state="shown"]').waitFor()
    }

    await maya.screenshot({ path: root('docs/poker.png') })
    await mkdir(root('test-artifacts'), { recursive: true })
    await jonas.screenshot({ path: root('test-artifacts/poker-phone.png'), fullPage: true })
    console.log('Wrote docs/poker.png and test-artifacts/poker-phone.png')
  } finally {
    await browser.close()
    await server.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
