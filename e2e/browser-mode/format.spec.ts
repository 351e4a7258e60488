import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;
const SECTOR = 512;

/**
 * "Return a stick to normal", in the app: a loop drive that holds what
 * flashing an ISO leaves (an ISO 9660 filesystem and an MBR with one small
 * partition) is formatted from the Format section; blkid and sfdisk, not the
 * app, then say what the drive holds. Drive rows name partitions by label.
 */

// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

/** A drive file as a flash of a hybrid ISO leaves it: ISO 9660 from sector 0, an MBR whose one partition covers only the ISO. */
function isoFlashedDrive(dir: string, name: string, bytes: number): string {
  const content = path.join(dir, 'iso-content');
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'README.TXT'), 'a live system\n'.repeat(100_000));
  const iso = path.join(dir, 'live.iso');
  execFileSync('genisoimage', ['-quiet', '-V', 'LIVE_ISO', '-o', iso, content]);
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(bytes));
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, fs.readFileSync(iso), 0, undefined, 0);
  fs.closeSync(fd);
  // The MBR sits in the ISO's unused system area, as isohybrid puts it there.
  const isoSectors = fs.statSync(iso).size / SECTOR;
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], { input: `label: dos\nstart=64, size=${isoSectors - 64}, type=17, bootable\n` });
  return file;
}

/** A drive file with two labelled partitions, labelled the way people do it: FAT with -n, ext4 with -L. */
function labelledDrive(dir: string, name: string, bytes: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(bytes));
  execFileSync('sfdisk', ['--quiet', file], { input: 'label: dos\nstart=2048, size=16384, type=c\nstart=18432, type=83\n' });
  execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'BOOTLBL', file, String((16384 * SECTOR) / 1024)], { stdio: 'ignore' });
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${18432 * SECTOR}`, '-L', 'rootfs', file, `${(bytes - 18432 * SECTOR) / 1024}k`], { stdio: 'ignore' });
  return file;
}

const session = useSession('format', async (dir, loops) => {
  loops.push(await attachLoopOver(isoFlashedDrive(dir, 'iso-stick.bin', 48 * MiB))); // 0: formatted with Automatic (FAT32)
  loops.push(await attachLoopOver(labelledDrive(dir, 'labelled.bin', 48 * MiB))); // 1: labels in its row; formatted exFAT
  const small = path.join(dir, 'small.bin');
  fs.writeFileSync(small, Buffer.alloc(4 * MiB));
  loops.push(await attachLoopOver(small)); // 2: too small to format
  const whole = path.join(dir, 'whole.bin');
  fs.writeFileSync(whole, Buffer.alloc(16 * MiB));
  execFileSync('mkfs.vfat', ['-n', 'WHOLEDISK', whole], { stdio: 'ignore' });
  loops.push(await attachLoopOver(whole)); // 3: a filesystem on the whole drive, no partition table
  // No udev here: partx tells the kernel about the partitions, as plugging a stick in would.
  // A stale partition another user of this loop number left (partx's outlive a detach) is forgotten first.
  for (const i of [0, 1]) {
    const device = (loops[i] as LoopDevice).device;
    try {
      execFileSync('partx', ['-d', device], { stdio: 'ignore' });
    } catch {
      // None there: partx says so by failing.
    }
    execFileSync('partx', ['-a', device]);
  }
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

/** blkid's low-level probe (no cache) of one tag; null when the device has none. */
function blkid(device: string, tag: string): string | null {
  try {
    return execFileSync('blkid', ['-p', '-o', 'value', '-s', tag, device], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null; // blkid exits 2 when it finds nothing
  }
}

interface SfdiskJson {
  partitiontable: { label: string; partitions: { node: string; start: number; size: number; type: string }[] };
}
const sfdiskJson = (device: string) => JSON.parse(execFileSync('sfdisk', ['--json', device], { encoding: 'utf8' })) as SfdiskJson;
const sectorsOf = (device: string) => Number(execFileSync('blockdev', ['--getsz', device], { encoding: 'utf8' }));

/** The Format section with loop devices shown. */
async function openFormat(page: Page) {
  await openApp(page, session().server.url);
  await page.getByRole('tab', { name: 'Format' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
}

const rowOf = (page: Page, device: string) => page.getByRole('listitem').filter({ has: driveControl(page, device, 'radio') });

test('drive rows name each partition by its label and filesystem, and a whole-drive filesystem by its label, on every screen', async ({ page }, info) => {
  await openFormat(page);
  const labelled = rowOf(page, loop(1).device);
  await expect(labelled).toContainText(/loop\d+p1\s*“BOOTLBL”\s*vfat/);
  await expect(labelled).toContainText(/loop\d+p2\s*“rootfs”\s*ext4/);
  await expect(driveControl(page, loop(1).device, 'radio')).toHaveAccessibleDescription(/BOOTLBL.*rootfs/);
  await expect(rowOf(page, loop(3).device)).toContainText(/whole drive\s*“WHOLEDISK”\s*vfat/);
  // The ISO-flashed stick: its small partition, and the size of the ISO that fills it.
  await expect(rowOf(page, loop(0).device)).toContainText(/loop\d+p1/);
  await screens(page, info, 'format-01-labels');
  // The same rows on the Flash screen (DriveRow is shared).
  await page.getByRole('tab', { name: 'Flash' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await expect(page.getByRole('listitem').filter({ has: driveControl(page, loop(1).device) })).toContainText('“rootfs”');
});

test('refusals and confirmation: a too small drive is disabled with the reason; a bad label disables Format; Cancel and Escape erase nothing', async ({ page }, info) => {
  await openFormat(page);
  const small = driveControl(page, loop(2).device, 'radio');
  await expect(small).toBeDisabled();
  await expect(small).toHaveAccessibleDescription(/too small/i);
  await expect(rowOf(page, loop(2).device)).toContainText(/Too small: holds 4\.19 MB, needs 8\.39 MB/);
  // Every control on the screen has a name.
  const controls = page.locator('button, input, select, [role=tab], [role=checkbox], [role=radio]');
  for (let i = 0; i < (await controls.count()); i++) await expect(controls.nth(i), `control ${i}`).toHaveAccessibleName(/\S/);

  const format = page.getByRole('button', { name: 'Format', exact: true });
  await expect(format).toBeDisabled();
  await driveControl(page, loop(0).device, 'radio').check();
  await expect(page.getByText('This drive gets FAT32.')).toBeVisible();
  // Its "loop device" badge says what it is; no note repeats it under the chosen row.
  await expect(rowOf(page, loop(0).device)).not.toContainText('is a loop device');
  const label = page.getByRole('textbox', { name: 'Label' });
  await label.fill('my.stick');
  await expect(label).toHaveAttribute('aria-invalid', 'true');
  await expect(label).toHaveAccessibleDescription(/FAT32 label cannot contain/);
  await expect(format).toBeDisabled();
  await label.fill('twelve chars');
  await expect(label).toHaveAccessibleDescription(/at most 11 characters/);
  await expect(format).toBeDisabled();
  // exFAT takes 15 characters.
  await page.getByRole('radio', { name: 'exFAT' }).check();
  await expect(label).toHaveAttribute('aria-invalid', 'false');
  await expect(format).toBeEnabled();
  await screens(page, info, 'format-02-form');
  for (const scheme of SCHEMES) await checkScreen(page, info, 'format-form', scheme, 'Format');
  await page.emulateMedia({ colorScheme: 'light' });

  const before = readHead(loop(0).device, MiB);
  await format.click();
  const dialog = page.getByRole('dialog', { name: 'Erase this drive?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(loop(0).device);
  await expect(dialog).toContainText(`Loop device over ${loop(0).backingFile}`);
  await expect(dialog).toContainText('one exFAT partition labelled "twelve chars"');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await screens(page, info, 'format-03-confirm');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await format.click();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('progressbar')).toHaveCount(0);
  expect(readHead(loop(0).device, MiB).equals(before), 'nothing written after Escape and Cancel').toBe(true);
  expect(blkid(loop(0).device, 'TYPE'), 'the ISO is still there').toBe('iso9660');
});

test('format the ISO-flashed stick with Automatic: one FAT32 partition over the whole drive, its label, checked by blkid and sfdisk; focus follows the job', async ({ page }, info) => {
  const drive = loop(0);
  await openFormat(page);
  await driveControl(page, drive.device, 'radio').check();
  await page.getByRole('textbox', { name: 'Label' }).fill('my stick');
  await page.getByRole('button', { name: 'Format', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and format' }).click();
  const status = page.getByRole('status');
  await expect(status).toHaveText('Formatted and verified.', { timeout: 60_000 });
  await expect(status).toBeFocused();
  const made = page.locator('dl[aria-label=Made]');
  await expect(made).toContainText(/Filesystem\s*FAT32/);
  await expect(made).toContainText(/Label\s*MY STICK/);
  await expect(made).toContainText(`${drive.device}p1`);
  await expect(page.locator('dl[aria-label=Summary]')).toContainText(/read back from the drive/);
  await expect(page.getByText(/you can remove it now/)).toBeVisible();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'format-result', scheme, 'Format another');
  await page.emulateMedia({ colorScheme: 'light' });

  // What the drive holds now, as the system's own tools read it.
  const table = sfdiskJson(drive.device).partitiontable;
  expect(table.label).toBe('dos');
  expect(table.partitions).toHaveLength(1);
  const [only] = table.partitions;
  expect(only?.start, 'the partition starts at 1 MiB').toBe(MiB / SECTOR);
  expect((only?.start ?? 0) + (only?.size ?? 0), 'the partition runs to the last sector').toBe(sectorsOf(drive.device));
  expect(only?.type).toBe('c');
  expect(blkid(drive.device, 'TYPE'), 'no ISO 9660 left on the drive').toBeNull();
  expect(blkid(drive.device, 'PTTYPE')).toBe('dos');
  expect(blkid(`${drive.device}p1`, 'TYPE')).toBe('vfat');
  expect(blkid(`${drive.device}p1`, 'LABEL')).toBe('MY STICK');

  // Back on the form, the drive's row shows the new label (the list is polled).
  await page.getByRole('button', { name: 'Format another' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await expect(rowOf(page, drive.device)).toContainText(/p1\s*“MY STICK”\s*vfat/, { timeout: 10_000 });
});

test('format the labelled drive as exFAT with a label of 11+ characters: blkid reads exFAT and the label as typed', async ({ page }, info) => {
  const drive = loop(1);
  await openFormat(page);
  await driveControl(page, drive.device, 'radio').check();
  await page.getByRole('radio', { name: 'exFAT' }).check();
  await page.getByRole('textbox', { name: 'Label' }).fill('Photos 2026');
  await page.getByRole('button', { name: 'Format', exact: true }).click();
  // The confirmation names what the drive holds now, by its labels.
  await expect(page.getByRole('dialog')).toContainText('holds “BOOTLBL”, “rootfs”');
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and format' }).click();
  await expect(page.getByRole('status')).toHaveText('Formatted and verified.', { timeout: 60_000 });
  await expect(page.locator('dl[aria-label=Made]')).toContainText(/Filesystem\s*exFAT/);
  await screens(page, info, 'format-04-exfat-result');
  const table = sfdiskJson(drive.device).partitiontable;
  expect(table.partitions).toHaveLength(1);
  expect(table.partitions[0]?.type).toBe('7');
  expect((table.partitions[0]?.start ?? 0) + (table.partitions[0]?.size ?? 0)).toBe(sectorsOf(drive.device));
  expect(blkid(`${drive.device}p1`, 'TYPE')).toBe('exfat');
  expect(blkid(`${drive.device}p1`, 'LABEL')).toBe('Photos 2026');
  expect(blkid(`${drive.device}p2`, 'TYPE'), 'the old second partition is gone').toBeNull();
});
