import { test, expect } from '@playwright/test';
import * as path from 'node:path';
import { makeRawImage } from '../support/images';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';
import { createSlowDrive, slowDriveUnavailable, type SlowDrive } from '../../electron/engine/testing/slow-drive';

const MiB = 1024 * 1024;

/**
 * A reload never loses the job: a page opened while a flash runs shows it
 * (progress, Cancel), Cancel still reaches it, and its drive is marked busy
 * on every screen that lists drives. The drive is a real block device slowed
 * to 1 MB/s (nbdkit's rate filter), so the flash of 40 MiB (about 40 s to write, as long to verify) takes long enough
 * to reload in the middle of it.
 */
let image = '';
// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

let slow: SlowDrive | undefined;
const session = useSession('reload', async (dir) => {
  const why = slowDriveUnavailable();
  if (why) {
    console.log(`[e2e reload] skipped: ${why}`);
    test.skip(true, why);
    return;
  }
  image = makeRawImage(dir, 'disk.img', 40);
  slow = await createSlowDrive(48 * MiB, '8M');
});
test.afterAll(async () => {
  await slow?.close();
});

test('reload mid-flash: the job panel comes back with progress and Cancel, the drive is busy elsewhere, Cancel works', async ({ page, context }, info) => {
  const { server } = session();
  const device = (slow as SlowDrive).device;
  await openApp(page, server.url);
  await page.getByLabel('Image path').fill(image);
  await page.getByRole('button', { name: 'Use path' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, device).check();
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and flash' }).click();
  // Focus moves to the job panel when the job starts.
  await expect(page.getByRole('heading', { name: `Flashing ${path.basename(image)}` })).toBeFocused();
  const row = () => page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: device });
  await expect(row()).toContainText(/Writing\s*[1-9][\d.]* MB/, { timeout: 30_000 });

  await page.reload();
  await expect(page.getByRole('heading', { name: `Flashing ${path.basename(image)}` })).toBeVisible();
  const bar = page.getByRole('progressbar');
  await expect(bar).toBeVisible();
  await expect(bar).toHaveAttribute('aria-valuenow', /^[1-9]\d?$/, { timeout: 15_000 });
  await expect(page.getByText(/^\d{1,3}%$/)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeVisible();
  await screens(page, info, 'reload-01-job-after-reload');
  // The running job's panel: Cancel in view at 800x600, AA contrast, light and dark (screenshots attached).
  for (const scheme of SCHEMES) await checkScreen(page, info, 'job-running', scheme, 'Cancel');
  await page.emulateMedia({ colorScheme: 'light' });

  // Another tab: the drive is marked busy on the screens that list drives.
  const other = await context.newPage();
  await openApp(other, server.url);
  for (const tab of ['Restore', 'Back up'] as const) {
    await other.getByRole('tab', { name: tab }).click();
    await other.getByRole('checkbox', { name: 'Show all drives' }).check();
    const control = driveControl(other, device, tab === 'Back up' ? 'radio' : 'checkbox');
    await expect(control).toBeDisabled();
    await expect(control).toHaveAccessibleDescription(/in use.*flash that is running/i);
  }
  await screens(other, info, 'reload-02-drive-busy');
  await other.close();

  await page.getByRole('button', { name: 'Cancel' }).click();
  const status = page.getByRole('status');
  await expect(status).toContainText(/Cancelled/, { timeout: 30_000 });
  // Focus moves to the result when the job ends.
  await expect(status).toBeFocused();
  // Cancelled while writing, or (on a busy machine) once written and while being read back.
  await expect(row()).toContainText(/Cancelled|Written \(not verified\)/);
  await screens(page, info, 'reload-03-cancelled');
});
