import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { driveControl, openApp, useSession } from '../support/session';

/**
 * Encrypted backup folders in the desktop app (issue 15), browser mode with
 * the real engine: a loop drive (FAT made by mkfs.vfat, a random file and a
 * marker text on it) is backed up from the Back up screen into a new folder
 * with "Encrypt this backup folder" (passphrase typed twice; a mismatch
 * keeps Back up disabled). The folder must be one the engine calls
 * encrypted, and the marker must appear in none of its files. A second
 * backup into it asks for its passphrase: a wrong one adds nothing, the
 * right one adds generation 2. The Restore
 * screen then asks for the folder's passphrase before listing anything: a
 * wrong one is refused with the engine's message and nothing is written;
 * the right one lists the generations; generation 1, picked by keyboard, is browsed (its marker file
 * extracted through the folder's unlock handle) and restored onto a junk-filled
 * loop drive that must then equal the drive backed up. The passphrase must
 * never appear in the server's output.
 */

const MiB = 1024 * 1024;
const DRIVE_BYTES = 16 * MiB;
const PASS = 'e2e passphrase 4f9a';
const WRONG = 'e2e passphrase 4f9b';
const MARKER = 'IMPRINT-E2E-PLAINTEXT-MARKER-7c1e';

// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

const session = useSession('backup-folder-encrypted', async (dir, loops) => {
  const file = path.join(dir, 'source.bin');
  fs.writeFileSync(file, Buffer.alloc(DRIVE_BYTES));
  execFileSync('sfdisk', ['--quiet', file], { input: 'label: dos\nstart=2048, type=c\n' });
  execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'SEALED', file, String((DRIVE_BYTES - MiB) / 1024)], { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'data.bin'), randomBytes(2 * MiB));
  fs.writeFileSync(path.join(dir, 'marker.txt'), `${MARKER}\n`.repeat(64));
  execFileSync('mcopy', ['-i', `${file}@@${MiB}`, path.join(dir, 'data.bin'), path.join(dir, 'marker.txt'), '::/']);
  loops.push(await attachLoopOver(file)); // 0: the drive backed up
  const target = path.join(dir, 'target.bin');
  fs.writeFileSync(target, Buffer.alloc(DRIVE_BYTES, 0xaa));
  loops.push(await attachLoopOver(target)); // 1: the restore target, full of old contents
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

/** The drive's bytes when it was backed up. */
let atBackup: Buffer | null = null;

/** Ids of the folder's generations, oldest first: one index each (generations/<id>.json; its piece names are <id>.names beside it). */
const generationsIn = (folder: string): string[] =>
  fs
    .readdirSync(path.join(folder, 'generations'))
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
const filesIn = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));

test('back up into a new encrypted folder (passphrase twice, a mismatch blocks; no plain text in it), then into it again (a wrong passphrase refused)', async ({ page }, info) => {
  const { dir, server } = session();
  const source = loop(0);
  const folder = path.join(dir, 'sealed');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, source.device, 'radio').check();
  await page.getByRole('radio', { name: 'A backup folder (keeps every version, stores only changes)' }).check();
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(folder);
  await expect(page.getByText('A new backup folder is created here; the first backup stores everything the filesystems use.')).toBeVisible();
  const encrypt = page.getByRole('checkbox', { name: 'Encrypt this backup folder' });
  await expect(encrypt).not.toBeChecked();
  // From the keyboard: Space ticks it, Tab reaches the two fields.
  await encrypt.focus();
  await page.keyboard.press('Space');
  await expect(encrypt).toBeChecked();
  const pass = page.getByLabel('Passphrase', { exact: true });
  const again = page.getByLabel('Passphrase again', { exact: true });
  await expect(pass).toHaveAttribute('type', 'password');
  await expect(again).toHaveAttribute('type', 'password');
  await expect(page.getByText(/If this passphrase is lost, nothing in this folder can be restored/)).toBeVisible();
  const backUp = page.getByRole('button', { name: 'Back up', exact: true });
  await expect(backUp).toBeDisabled();
  await expect(page.getByText('Type a passphrase for the encrypted folder, twice.')).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(pass).toBeFocused();
  await page.keyboard.type(PASS);
  await page.keyboard.press('Tab');
  await expect(again).toBeFocused();
  await page.keyboard.type(WRONG);
  await expect(page.getByText('The two passphrases differ: type the same one in both fields.')).toBeVisible();
  await expect(backUp).toBeDisabled();
  await again.fill(PASS);
  await expect(backUp).toBeEnabled();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'backup-folder-encrypt-form', scheme, 'Back up');
  atBackup = readHead(source.device, DRIVE_BYTES);
  await backUp.click();
  const result = page.locator('dl[aria-label=Backup]');
  await expect(result).toContainText(folder, { timeout: 60_000 });
  await expect(result).toContainText('1 (');

  // The engine's own marker says encrypted; no file of the folder holds the marker text the drive does.
  const marker = JSON.parse(fs.readFileSync(path.join(folder, 'imprint-backup-folder.json'), 'utf8')) as { encryption?: { cipher?: string } };
  expect(marker.encryption?.cipher).toBe('aes-256-gcm');
  expect(readHead(source.device, DRIVE_BYTES).includes(MARKER), 'the drive holds the marker').toBe(true);
  const files = filesIn(folder);
  expect(files.length).toBeGreaterThan(2);
  for (const f of files) expect(fs.readFileSync(f).includes(MARKER), `${f} holds no plain text`).toBe(false);

  // Backing up again into it asks for its passphrase (one field).
  await page.getByRole('button', { name: 'Back up another' }).click();
  await expect(page.getByText(/^An encrypted backup folder: this backup adds a generation/)).toBeVisible();
  await expect(page.getByLabel('Passphrase of this backup folder')).toHaveAttribute('type', 'password');
  await expect(page.getByRole('checkbox', { name: 'Encrypt this backup folder' })).toHaveCount(0);
  await expect(backUp).toBeDisabled();
  // A wrong one is refused with the engine's message before anything is read; no generation is added.
  await page.getByLabel('Passphrase of this backup folder').fill(WRONG);
  await backUp.click();
  await expect(page.getByText(`Wrong passphrase for the encrypted backup folder ${folder}`, { exact: false })).toBeVisible({ timeout: 30_000 });
  expect(generationsIn(folder), 'still one generation').toHaveLength(1);
  await page.getByRole('button', { name: 'Back up another' }).click();
  // The field starts empty again: nothing kept the passphrase.
  await expect(page.getByLabel('Passphrase of this backup folder')).toHaveValue('');
  await page.getByLabel('Passphrase of this backup folder').fill(PASS);
  await page.keyboard.press('Enter');
  await expect(result).toContainText(/Generation\s*2 \(/, { timeout: 60_000 });
  expect(generationsIn(folder)).toHaveLength(2);
  const output = server.output();
  expect(output.includes(PASS) || output.includes(WRONG), 'the server printed no passphrase').toBe(false);
});

test('restore: the folder asks for its passphrase, refuses a wrong one (nothing written), lists and restores with the right one', async ({ page }, info) => {
  expect(atBackup, 'the backup test ran first and recorded the drive').not.toBeNull();
  const { dir, server } = session();
  const target = loop(1);
  const folder = path.join(dir, 'sealed');
  const [first, second] = generationsIn(folder);
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByRole('radio', { name: 'A backup folder (choose one of its generations)' }).check();
  await page.getByRole('textbox', { name: 'Backup folder' }).fill(folder);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(page.getByText('This backup folder is encrypted: type its passphrase to list its generations.')).toBeVisible();
  const pass = page.getByLabel('Passphrase', { exact: true });
  await expect(pass).toHaveAttribute('type', 'password');
  await expect(pass).toBeFocused();
  await expect(page.getByRole('radio', { name: /^#\d,/ })).toHaveCount(0);
  await checkScreen(page, info, 'restore-folder-locked', 'light', 'Restore');

  // A wrong passphrase: the engine's message, the field emptied for another try, the target untouched.
  const before = readHead(target.device, DRIVE_BYTES);
  await page.keyboard.type(WRONG);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toContainText(`Wrong passphrase for the encrypted backup folder ${folder}`, { timeout: 30_000 });
  await expect(pass).toHaveValue('');
  await expect(pass).toBeFocused();
  await expect(page.getByRole('radio', { name: /^#\d,/ })).toHaveCount(0);
  expect(readHead(target.device, DRIVE_BYTES).equals(before), 'nothing was written').toBe(true);

  await page.keyboard.type(PASS);
  await page.getByRole('button', { name: 'Unlock' }).click();
  const newest = page.getByRole('radio', { name: /^#2,/ });
  await expect(newest, 'listed, the newest chosen').toBeChecked({ timeout: 30_000 });
  await expect(pass).toHaveCount(0);
  await expect(page.getByRole('alert')).toHaveCount(0);
  const details = page.locator('dl[aria-label="Backup details"]');
  await expect(details).toContainText(`backup folder generation 2 (${second})`);
  // The keyboard moves between generations; each one's details are read with the folder's handle.
  await newest.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('radio', { name: /^#1,/ })).toBeChecked();
  await expect(details).toContainText(`backup folder generation 1 (${first})`);
  // Browse files reads the generation through the folder's handle: the marker file is listed and extracted as it was written.
  await page.getByRole('button', { name: 'Browse files' }).click();
  const dialog = page.getByRole('dialog', { name: /^Files in / });
  const tree = dialog.getByRole('tree', { name: 'Partitions and folders' });
  const fat = tree.getByRole('treeitem', { name: /Partition 1: .*"SEALED"/ });
  await fat.click();
  await expect(fat).toHaveAttribute('aria-expanded', 'true', { timeout: 30_000 });
  const markerRow = tree.getByRole('treeitem', { name: /marker\.txt/i });
  await expect(markerRow).toBeVisible();
  // From the partition, Down moves through its entries (the tree's focus is its own: a row is ticked from the keyboard).
  for (let i = 0; i < 5 && !((await page.locator('[role=treeitem]:focus').textContent()) ?? '').toLowerCase().includes('marker.txt'); i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press(' ');
  await expect(markerRow).toHaveAttribute('aria-selected', 'true');
  const dest = path.join(dir, 'extracted');
  await dialog.getByLabel('Extract to folder').fill(dest);
  await dialog.getByRole('button', { name: 'Extract 1 selected to…' }).click();
  await expect(dialog.getByText(/Extracted 1 file and 0 folders/)).toBeVisible({ timeout: 30_000 });
  const [got] = fs.readdirSync(dest);
  expect(fs.readFileSync(path.join(dest, got as string), 'utf8')).toBe(`${MARKER}\n`.repeat(64));
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);

  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, target.device).check();
  await page.getByRole('checkbox', { name: 'Wipe free space' }).check();
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and restore' }).click();
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  // The source's free space was zeros (a fresh file, then mkfs), so the wiped target equals the drive backed up.
  expect(readHead(target.device, DRIVE_BYTES).equals(atBackup as Buffer), 'the target equals the drive backed up').toBe(true);
  const output = server.output();
  expect(output.includes(PASS) || output.includes(WRONG), 'the server printed no passphrase').toBe(false);
});
