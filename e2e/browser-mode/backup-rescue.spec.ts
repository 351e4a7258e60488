import { test, expect } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as FaultyDeviceModule from '../../electron/engine/testing/faulty-device';
import { REPO, startBrowserMode, type BrowserMode } from '../support/browser-mode';
import { screens } from '../support/screens';
import { driveControl, openApp, whyNotRunnable } from '../support/session';

/**
 * A backup of a drive with unreadable sectors, through the UI: the backup
 * fails, the app offers rescue, and the rescue's result says how much was
 * saved and lost, and where. The drive is a real faulty block device (nbdkit
 * failing chosen ranges, as the engine's fault bench builds it).
 */

const MiB = 1024 * 1024;
const SIZE = 16 * MiB;
const BAD = [{ offset: 6 * MiB + 1024, length: 2048 }];
const LOST = BAD.reduce((n, b) => n + b.length, 0);

// The built harness (npm run build), as the engine's own tests use it.
const faultyModule = path.join(REPO, 'out', 'electron', 'engine', 'testing', 'faulty-device.js');
const faulty = (): typeof FaultyDeviceModule => createRequire(__filename)(faultyModule) as typeof FaultyDeviceModule;

let dir = '';
let server: BrowserMode | null = null;
let drive: FaultyDeviceModule.FaultyDevice | null = null;

test.beforeAll(async () => {
  const why = whyNotRunnable() ?? (fs.existsSync(faultyModule) ? null : `${faultyModule} is not built (run npm run build)`);
  const tools = why ? null : faulty().faultToolsAvailable();
  const reason = why ?? (tools && !tools.ok ? `faulty-device harness unavailable, missing: ${tools.missing.join(', ')}` : null);
  if (reason) {
    console.log(`[e2e backup-rescue] skipped: ${reason}`);
    test.skip(true, reason);
    return;
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-e2e-backup-rescue-'));
  drive = await faulty().createFaultyDevice({ size: SIZE, initialContent: randomBytes(SIZE), readErrors: BAD });
  server = await startBrowserMode();
});

test.afterAll(async () => {
  await server?.stop();
  await drive?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('backup of a drive with unreadable sectors offers rescue; the rescue reports bytes rescued, bytes lost and the bad area', async ({ page }, info) => {
  if (!server || !drive) throw new Error('session not started');
  const output = path.join(dir, 'failing.img.zst');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, drive.device, 'radio').check();
  await page.getByLabel('Backup path').fill(output);
  await page.getByRole('button', { name: 'Back up', exact: true }).click();

  await expect(page.getByRole('alert').filter({ hasText: 'The drive has unreadable sectors; rescue what can be read?' })).toBeVisible({ timeout: 60_000 });
  await screens(page, info, 'backup-rescue-01-offer');
  expect(fs.readdirSync(dir), 'the failed backup left no file').toEqual([]);

  await page.getByRole('button', { name: 'Rescue what can be read' }).click();
  const facts = page.locator('dl[aria-label=Rescue]');
  await expect(facts).toBeVisible({ timeout: 60_000 });
  await expect(facts).toContainText('Rescued');
  await expect(facts).toContainText(path.join(dir, 'failing.img'));
  const areas = page.getByRole('list', { name: 'Unreadable areas' });
  await expect(areas).toContainText(`(byte ${BAD[0]?.offset})`);
  await screens(page, info, 'backup-rescue-02-result');
  // The figures the page shows, checked against the files the rescue left.
  expect(fs.readdirSync(dir).sort()).toEqual(['failing.img', 'failing.img.map']);
  expect(fs.statSync(path.join(dir, 'failing.img')).size).toBe(SIZE);
  await expect(facts.locator('dd').nth(1)).toHaveText(new RegExp(`^${(LOST / 1000).toFixed(2).replace('.', '\\.')} kB$`));
});
