import { defineConfig } from '@playwright/test';
import * as path from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium';

/**
 * End-to-end tests: Debian's Chromium (no downloaded browser) against browser
 * mode with the real engine on real loop devices, one test at a time (they
 * share loop devices and two CPU cores). Screenshots of every step go to
 * test-results/ (gitignored), kept as the run's artifacts.
 */
export default defineConfig({
  testDir: __dirname,
  testMatch: '**/*.spec.ts',
  outputDir: path.join(__dirname, '..', 'test-results', 'e2e'),
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // Owned here: a flash of a few MiB takes seconds; the bzip2 image of the cancel test decompresses slowly on purpose.
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});
