import { test, expect, type Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipOf, makeRawImage, truncatedCopy } from '../support/images';
import { attachLoop, attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;
const IMAGE_MIB = 24;
const SMALL_MIB = 8;

/**
 * A drive too small for a .gz is refused before anything is written: the
 * confirmation says the uncompressed size is not known up front (and the
 * least it is, from gzip's ISIZE trailer), and pressing on ends in a refusal
 * that names the sizes, with the drive's bytes unchanged. A .gz that fails
 * once writing began says plainly that the drive's old data is gone.
 */
let raw = '';
let gz = '';
let truncated = '';
let smallContent: Buffer = Buffer.alloc(0);
const session = useSession('gz-size', async (dir, loops) => {
  raw = makeRawImage(dir, 'disk.img', IMAGE_MIB);
  gz = gzipOf(raw);
  truncated = truncatedCopy(gz, 0.5);
  smallContent = randomBytes(SMALL_MIB * MiB);
  const small = path.join(dir, 'small.bin');
  fs.writeFileSync(small, smallContent);
  loops.push(await attachLoopOver(small)); // 0: smaller than the image, holding data of its own
  loops.push(await attachLoop(dir, 'target.bin', 32 * MiB)); // 1: large enough
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

async function flashConfirmed(page: Page, image: string, device: string, checkDialog?: (dialog: ReturnType<Page['getByRole']>) => Promise<void>) {
  await openApp(page, session().server.url);
  await page.getByLabel('Image path').fill(image);
  await page.getByRole('button', { name: 'Use path' }).click();
  await expect(page.getByRole('definition').filter({ hasText: path.basename(image) })).toBeVisible();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, device).check();
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(device);
  await checkDialog?.(dialog);
  await dialog.getByRole('button', { name: 'Erase and flash' }).click();
}

test('a .gz larger than the drive: the confirmation says the size is not known, then the flash is refused before writing; the drive is unchanged', async ({ page }, info) => {
  const small = loop(0);
  const needed = fs.statSync(raw).size;
  await flashConfirmed(page, gz, small.device, async (dialog) => {
    // The least the content holds is what gzip's trailer records: the raw image's size here (one member, under 4 GiB).
    await expect(dialog).toContainText(`not known before it is decompressed (at least ${needed} bytes)`);
    await screens(page, info, 'gz-01-confirm-size-unknown');
  });
  const status = page.getByRole('status');
  await expect(status).toContainText(/failed/i, { timeout: 60_000 });
  await expect(page.getByText(new RegExp(`${small.device}.*${needed}`)).first()).toBeVisible();
  await expect(page.getByText(/old data is erased/)).toHaveCount(0);
  await expect(status).toBeFocused();
  await screens(page, info, 'gz-02-refused');
  expect(readHead(small.device, SMALL_MIB * MiB).equals(smallContent), `${small.device} was written`).toBe(true);
});

test('a .gz that breaks off after writing began says the drive\'s old data is erased', async ({ page }, info) => {
  const target = loop(1);
  await flashConfirmed(page, truncated, target.device);
  await expect(page.getByRole('status')).toContainText(/failed/i, { timeout: 60_000 });
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText(/old data is erased/);
  await screens(page, info, 'gz-03-failed-after-writing');
});
