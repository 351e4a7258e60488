import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatBytes } from '../../shared/units';
import { attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { driveControl, openApp, useSession } from '../support/session';

/**
 * Backup folders in the desktop app (issue 15), browser mode with the real
 * engine: a loop drive (ext4 + FAT made by their own tools, a random file on
 * the FAT) is backed up into a new folder, a small file is added, and it is
 * backed up again; the second generation must add little. The Restore
 * screen lists both generations by drive, newest first, with the new data
 * each added (checked against the folder's own index files); the first is
 * picked with the keyboard and restored, free space wiped, onto a junk-filled
 * loop drive, which must then equal the drive as it was at the first backup.
 */

const MiB = 1024 * 1024;
/** Partition 1 (ext4) and 2 (FAT) of the source drive, in MiB from the start. */
const P1 = { start: 1, size: 12 };
const P2 = { start: 13, size: 10 };
const DRIVE_BYTES = 24 * MiB;

// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

const photo = randomBytes(3 * MiB);
const session = useSession('backup-folder', async (dir, loops) => {
  const file = path.join(dir, 'source.bin');
  fs.writeFileSync(file, Buffer.alloc(DRIVE_BYTES));
  execFileSync('sfdisk', ['--quiet', file], { input: `label: dos\nstart=${P1.start * 2048}, size=${P1.size * 2048}, type=83\nstart=${P2.start * 2048}, size=${P2.size * 2048}, type=c\n` });
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${P1.start * MiB}`, file, `${P1.size * 1024}k`], { stdio: 'ignore' });
  execFileSync('mkfs.vfat', ['--offset', String(P2.start * 2048), '-n', 'GENS', file, String(P2.size * 1024)], { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'photo.bin'), photo);
  execFileSync('mcopy', ['-i', `${file}@@${P2.start * MiB}`, path.join(dir, 'photo.bin'), '::/photo.bin']);
  loops.push(await attachLoopOver(file)); // 0: the drive backed up
  const target = path.join(dir, 'target.bin');
  fs.writeFileSync(target, Buffer.alloc(DRIVE_BYTES, 0xaa));
  loops.push(await attachLoopOver(target)); // 1: the restore target, full of old contents
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

/** The drive's bytes when the first generation was taken. */
let atFirst: Buffer | null = null;

/** The generations' own records, oldest first: what the folder says, for the screen to be checked against. */
function indexes(folder: string): { id: string; added: { bytes: number; storedBytes: number } }[] {
  const dir = path.join(folder, 'generations');
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { id: string; added: { bytes: number; storedBytes: number } });
}

async function backUpInto(page: Page, device: string, folder: string): Promise<void> {
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, device, 'radio').check();
  await page.getByRole('radio', { name: 'A backup folder (keeps every version, stores only changes)' }).check();
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(folder);
}

test('back up into a new folder twice: each result names its generation; the second stores little new data', async ({ page }, info) => {
  const { dir, server } = session();
  const source = loop(0);
  const folder = path.join(dir, 'backups');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  // A single file stays the default; the choice explains itself.
  const single = page.getByRole('radio', { name: 'A single file' });
  await expect(single).toBeChecked();
  // The choice works from the keyboard like any radio group.
  await single.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('radio', { name: 'A backup folder (keeps every version, stores only changes)' })).toBeChecked();
  await backUpInto(page, source.device, folder);
  await expect(page.getByText('A new backup folder is created here; the first backup stores everything the filesystems use.')).toBeVisible();
  await expect(page.getByLabel('Compression')).toHaveCount(0);
  for (const scheme of SCHEMES) await checkScreen(page, info, 'backup-folder-form', scheme, 'Back up');
  atFirst = readHead(source.device, DRIVE_BYTES);
  await page.getByRole('button', { name: 'Back up', exact: true }).click();
  const result = page.locator('dl[aria-label=Backup]');
  await expect(result).toContainText(folder, { timeout: 60_000 });
  const [first] = indexes(folder);
  expect(first, 'the folder holds the first generation').toBeTruthy();
  await expect(result).toContainText(`1 (${first?.id})`);
  await expect(result).toContainText(`${formatBytes(first?.added.bytes ?? -1)} in`);
  expect(first?.added.bytes ?? 0, 'the first generation stored the photo at least').toBeGreaterThan(photo.length);
  // Nothing is read back, and the panel does not say so.
  await expect(page.getByRole('list', { name: 'Phases' })).not.toContainText('Checking the backup');
  await expect(page.getByText(/stored under the SHA-256 of its data/)).toBeVisible();
  // The result's facts use the styles every result does; one scheme keeps the spec short.
  await checkScreen(page, info, 'backup-folder-result', 'light', 'Back up another');

  // A small change on the drive, through the device (its cache is the one the next backup reads through).
  const note = path.join(dir, 'note.txt');
  fs.writeFileSync(note, 'added after the first backup\n');
  execFileSync('mcopy', ['-i', `${source.device}@@${P2.start * MiB}`, note, '::/note.txt'], { stdio: 'ignore' });
  execFileSync('sync');

  await page.getByRole('button', { name: 'Back up another' }).click();
  await expect(page.getByText(/A backup folder with 1 generation: this backup adds generation 2/)).toBeVisible();
  await page.getByRole('button', { name: 'Back up', exact: true }).click();
  await expect(result).toContainText(/Generation\s*2 \(/, { timeout: 60_000 });
  const [, second] = indexes(folder);
  await expect(result).toContainText(`2 (${second?.id})`);
  await expect(result).toContainText(`${formatBytes(second?.added.bytes ?? -1)} in`);
  // The FAT's tables, its directory and the note's cluster changed; the photo and the ext4 did not.
  expect(second?.added.bytes ?? Infinity, 'the second generation adds a small part of what the first did').toBeLessThan((first?.added.bytes ?? 0) / 4);
});

test('restore: the folder lists its generations by drive, newest first, with what each added; the first, picked by keyboard, restores byte for byte', async ({ page }, info) => {
  expect(atFirst, 'the backup test ran first and recorded the drive').not.toBeNull();
  const { dir, server } = session();
  const source = loop(0);
  const target = loop(1);
  const folder = path.join(dir, 'backups');
  const [first, second] = indexes(folder);
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByRole('radio', { name: 'A backup folder (choose one of its generations)' }).check();
  // Browser mode's stand-in for the folder dialog: go to the folder, use it.
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  const chooser = page.getByRole('dialog', { name: 'Choose a backup folder' });
  await chooser.getByRole('textbox', { name: 'Folder' }).fill(folder);
  await chooser.getByRole('button', { name: 'Open folder' }).click();
  await expect(chooser.getByRole('list', { name: `In ${folder}` })).toBeVisible();
  await chooser.getByRole('button', { name: 'Use this folder' }).click();
  await expect(page.getByRole('textbox', { name: 'Backup folder' })).toHaveValue(folder);
  const table = page.getByRole('table', { name: new RegExp(`^Generations of (.* \\()?${source.device.replace(/\//g, '\\/')}\\)?$`) });
  const rows = table.getByRole('row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('#2');
  await expect(rows.nth(2)).toContainText('#1');
  await expect(rows.nth(1)).toContainText(formatBytes(second?.added.storedBytes ?? -1));
  await expect(rows.nth(2)).toContainText(formatBytes(first?.added.storedBytes ?? -1));
  await expect(rows.nth(1)).toContainText(formatBytes(DRIVE_BYTES));
  const newest = page.getByRole('radio', { name: /^#2,/ });
  await expect(newest, 'the latest is preselected').toBeChecked();
  const details = page.locator('dl[aria-label="Backup details"]');
  await expect(details).toContainText(`backup folder generation 2 (${second?.id})`);
  // Arrow keys move between the generations as in any radio group.
  await newest.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('radio', { name: /^#1,/ })).toBeChecked();
  await expect(details).toContainText(`backup folder generation 1 (${first?.id})`);
  await expect(details).toContainText('Smart: only what the filesystems use');

  // Browse files reads the chosen generation: the photo is there, the note added later is not.
  await page.getByRole('button', { name: 'Browse files' }).click();
  const dialog = page.getByRole('dialog', { name: /^Files in / });
  const tree = dialog.getByRole('tree', { name: 'Partitions and folders' });
  const fat = tree.getByRole('treeitem', { name: /Partition 2: .*"GENS"/ });
  await fat.click();
  await expect(fat).toHaveAttribute('aria-expanded', 'true');
  await expect(tree.getByRole('treeitem', { name: /photo\.bin/ })).toBeVisible();
  await expect(tree.getByRole('treeitem', { name: /note\.txt/ })).toHaveCount(0);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);

  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, target.device).check();
  await page.getByRole('checkbox', { name: 'Wipe free space' }).check();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'restore-folder', scheme, 'Restore');
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and restore' }).click();
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  // The source's free space was zeros (a fresh file, then mkfs), so the wiped target equals the drive at the first backup.
  const restored = readHead(target.device, DRIVE_BYTES);
  expect(restored.equals(atFirst as Buffer), 'the target equals the drive as it was at generation 1').toBe(true);
  // Its FAT as mtools reads it (from a copy read with O_DIRECT: the device's page cache may hold what was there before).
  const copy = path.join(dir, 'restored.bin');
  fs.writeFileSync(copy, restored);
  const listed = execFileSync('mdir', ['-b', '-i', `${copy}@@${P2.start * MiB}`, '::/'], { encoding: 'utf8' });
  expect(listed).toMatch(/PHOTO\.BIN|photo\.bin/);
  expect(listed).not.toMatch(/note\.txt|NOTE\.TXT/);
});
