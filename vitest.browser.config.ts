import { defineConfig } from 'vitest/config'

/**
 * The browser tests (`npm run test:browser`): headless Chromium against the planning-poker
 * demo. Kept apart from `npm test` so that it stays fast and needs no browser.
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
