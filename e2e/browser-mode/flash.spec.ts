import { test, expect } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipOf, makeRawImage, makeSlowImage, truncatedCopy } from '../support/images';
import { attachLoop, detachLoop, readHead, type LoopDevice } from '../support/loop-devices';
import { progressSeen, recordProgress, screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;
const IMAGE_MIB = 24;

let raw = '';
let gz = '';
let corrupt = '';
let slow = '';
const session = useSession('flash', async (dir, loops) => {
  raw = makeRawImage(dir, 'disk.img', IMAGE_MIB);
  gz = gzipOf(raw);
  corrupt = truncatedCopy(gz, 0.5);
  slow = makeSlowImage(dir, 'slow.img', 16);
  loops.push(await attachLoop(dir, 'target-a.bin', 32 * MiB)); // 0
  loops.push(await attachLoop(dir, 'target-b.bin', 32 * MiB)); // 1
  loops.push(await attachLoop(dir, 'small.bin', 8 * MiB)); // 2: smaller than the image
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

test.beforeEach(async ({ page }) => {
  await recordProgress(page);
});

/** Image by path, "Show all drives" (loop devices are hidden by default), one target, confirm. */
async function chooseAndConfirm(page: import('@playwright/test').Page, image: string, device: string, shots?: (step: string) => Promise<void>) {
  await page.getByLabel('Image path').fill(image);
  await page.getByRole('button', { name: 'Use path' }).click();
  await expect(page.getByRole('definition').filter({ hasText: path.basename(image) })).toBeVisible();
  await expect(driveControl(page, device)).toHaveCount(0); // hidden until "Show all drives"
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, device).check();
  await shots?.('flash-02-image-and-target');
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(device);
  await shots?.('flash-03-confirm');
  await dialog.getByRole('button', { name: 'Erase and flash' }).click();
}

test('flash a raw image chosen by path onto a loop device: progress, then Verified, and the bytes are on the device', async ({ page }, info) => {
  const { server } = session();
  const target = loop(0);
  await openApp(page, server.url);
  await screens(page, info, 'flash-01-start');
  await chooseAndConfirm(page, raw, target.device, (step) => screens(page, info, step));
  await expect(page.getByRole('progressbar')).toBeVisible();
  await screens(page, info, 'flash-04-progress');
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  await expect(page.getByRole('status')).toContainText('verified');
  await screens(page, info, 'flash-05-verified');
  const seen = await progressSeen(page);
  expect(seen.length, 'the progressbar showed values').toBeGreaterThan(0);
  expect(seen.every((v) => v >= 0 && v <= 100)).toBe(true);
  expect(readHead(target.device, IMAGE_MIB * MiB).equals(fs.readFileSync(raw)), 'device content equals the image').toBe(true);
});

test('the image step shows what the image is: name, format, sizes, partition table', async ({ page }) => {
  await openApp(page, session().server.url);
  await page.getByLabel('Image path').fill(gz);
  await page.getByRole('button', { name: 'Use path' }).click();
  const facts = page.getByRole('definition');
  await expect(facts.filter({ hasText: 'disk.img.gz' })).toBeVisible();
  await expect(facts.filter({ hasText: /gzip/i })).toBeVisible();
  await expect(facts.filter({ hasText: 'MBR' })).toBeVisible();
  const fileSize = (fs.statSync(gz).size / 1e6).toFixed(1);
  await expect(facts.filter({ hasText: `${fileSize} MB` })).toBeVisible();
});

test('a file dropped on the window in a browser has no path: the app says so and asks for it', async ({ page }, info) => {
  await openApp(page, session().server.url);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['not read'], 'dropped.img'));
    window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
  });
  await expect(page.getByText(/does not tell Imprint where "dropped\.img" is stored.*Image path/)).toBeVisible();
  await expect(page.getByText('Drop the image to use it')).toHaveCount(0);
  await screens(page, info, 'flash-13-dropped-without-path');
});

test('flash the gzip of the image onto a second loop device and see it verified', async ({ page }, info) => {
  const target = loop(1);
  await openApp(page, session().server.url);
  await chooseAndConfirm(page, gz, target.device);
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  await screens(page, info, 'flash-06-gzip-verified');
  expect(readHead(target.device, IMAGE_MIB * MiB).equals(fs.readFileSync(raw))).toBe(true);
});

test('a loop device smaller than the image is disabled, with the reason shown', async ({ page }, info) => {
  const small = loop(2);
  await openApp(page, session().server.url);
  await page.getByLabel('Image path').fill(raw);
  await page.getByRole('button', { name: 'Use path' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  const box = driveControl(page, small.device);
  await expect(box).toBeDisabled();
  await expect(box).toHaveAccessibleDescription(/too small/i);
  await expect(page.getByRole('listitem').filter({ hasText: small.device })).toContainText(/Too small: holds 8\.39 MB, needs 25\.2 MB/);
  await expect(driveControl(page, loop(0).device)).toBeEnabled();
  await screens(page, info, 'flash-07-too-small');
});

test('a truncated .gz ends in a clear error naming the problem', async ({ page }, info) => {
  const target = loop(0);
  await openApp(page, session().server.url);
  await chooseAndConfirm(page, corrupt, target.device);
  await expect(page.getByRole('status')).toContainText(/failed/i, { timeout: 60_000 });
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText(/Failed: The gzip file .*truncated or corrupt/i);
  await expect(page.getByRole('status')).not.toContainText(/verified/i);
  await screens(page, info, 'flash-08-corrupt');
});

test('cancel stops a flash mid-way and says so', async ({ page }, info) => {
  const target = loop(1);
  await openApp(page, session().server.url);
  await chooseAndConfirm(page, slow, target.device);
  // Wait until bytes are on the drive, so the cancel lands in the middle of the write.
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText(/Writing\s*[1-9][\d.]* MB/, { timeout: 30_000 });
  await screens(page, info, 'flash-09-before-cancel');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('status')).toContainText(/Cancelled\. The drive was partly written/, { timeout: 15_000 });
  await expect(row).toContainText('Cancelled');
  await expect(page.getByRole('status')).not.toContainText(/verified/i);
  await screens(page, info, 'flash-10-cancelled');
  await page.getByRole('button', { name: 'Flash another' }).click();
  await expect(page.getByLabel('Image path')).toHaveValue(slow);
});

test('a loop device attached while the app is open appears in the list within seconds, and goes when detached', async ({ page }, info) => {
  const { dir } = session();
  await openApp(page, session().server.url);
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  const plugged = await attachLoop(dir, 'plugged.bin', 16 * MiB);
  try {
    // The service polls the drive list every 1.5 s; "a few seconds" is the promise.
    await expect(driveControl(page, plugged.device)).toBeVisible({ timeout: 6_000 });
    await screens(page, info, 'flash-11-hotplug');
  } finally {
    await detachLoop(plugged);
  }
  await expect(driveControl(page, plugged.device)).toHaveCount(0, { timeout: 6_000 });
});

test('keyboard only: path, drive, Flash, and the dialog opens on Cancel and closes with Escape; every control is named', async ({ page }, info) => {
  const target = loop(0);
  await openApp(page, session().server.url);
  for (const tab of ['Flash', 'Back up', 'Restore']) {
    await page.getByRole('tab', { name: tab }).click();
    const controls = page.locator('button, input, select, [role=tab], [role=checkbox], [role=radio]');
    const count = await controls.count();
    expect(count).toBeGreaterThan(3);
    for (let i = 0; i < count; i++) await expect(controls.nth(i), `control ${i} on ${tab}`).toHaveAccessibleName(/\S/);
  }
  await page.getByRole('tab', { name: 'Flash' }).click();
  await page.getByLabel('Image path').focus();
  await page.keyboard.type(raw);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Use path' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('definition').filter({ hasText: 'disk.img' })).toBeVisible();
  await page.getByRole('checkbox', { name: 'Show all drives' }).focus();
  await page.keyboard.press('Space');
  const box = driveControl(page, target.device);
  await box.focus();
  await page.keyboard.press('Space');
  await expect(box).toBeChecked();
  const flash = page.getByRole('button', { name: 'Flash', exact: true });
  await flash.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await screens(page, info, 'flash-12-keyboard-confirm');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('progressbar')).toHaveCount(0);
  // Arrow keys move between the sections.
  await page.getByRole('tab', { name: 'Flash' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Back up' })).toBeFocused();
  await expect(page.getByRole('tab', { name: 'Back up' })).toHaveAttribute('aria-selected', 'true');
});

