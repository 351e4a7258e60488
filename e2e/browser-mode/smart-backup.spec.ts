import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;

/** Partition 1 (ext4) and 2 (FAT) of the source drive, in MiB from the start. */
const P1 = { start: 1, size: 12 };
const P2 = { start: 13, size: 10 };

// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

let sourceFile = '';
const session = useSession('smart-backup', async (dir, loops) => {
  // A drive with two real filesystems made by their own tools, written at their partitions' offsets.
  const file = path.join(dir, 'source.bin');
  sourceFile = file;
  fs.writeFileSync(file, Buffer.alloc(24 * MiB));
  execFileSync('sfdisk', ['--quiet', file], { input: `label: dos\nstart=${P1.start * 2048}, size=${P1.size * 2048}, type=83\nstart=${P2.start * 2048}, size=${P2.size * 2048}, type=c\n` });
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${P1.start * MiB}`, file, `${P1.size * 1024}k`], { stdio: 'ignore' });
  execFileSync('mkfs.vfat', ['--offset', String(P2.start * 2048), '-n', 'SMART', file, String(P2.size * 1024)], { stdio: 'ignore' });
  loops.push(await attachLoopOver(file)); // 0: the drive to back up
  // A restore target full of old contents (0xAA everywhere), so free space left unwiped would show.
  const old = path.join(dir, 'target.bin');
  fs.writeFileSync(old, Buffer.alloc(24 * MiB, 0xaa));
  loops.push(await attachLoopOver(old)); // 1: the restore target
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

let smartBackup = '';

test('smart backup: the per-partition table shows ext4 and FAT with what is stored; the backup records a smart backup', async ({ page }, info) => {
  const { dir, server } = session();
  const source = loop(0);
  smartBackup = path.join(dir, 'smart.img.zst');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await expect(page.getByRole('radio', { name: 'Smart (only what the filesystems use)' })).toBeChecked();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, source.device, 'radio').check();
  const table = page.getByRole('table', { name: 'What the backup will store' });
  const rows = table.getByRole('row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('ext4');
  await expect(rows.nth(1)).toContainText('used blocks');
  await expect(rows.nth(2)).toContainText(/fat1[26]/); // the engine names the FAT by its width; mkfs.vfat picks it by size
  await expect(page.getByText(/^To be read:/)).toBeVisible();
  // The drive map shows used and free of each partition from the same plan.
  await expect(page.getByRole('figure', { name: `On ${source.device} now` })).toContainText(/used, .* free/);
  await page.getByLabel('Backup path').fill(smartBackup);
  await screens(page, info, 'smart-backup-01-plan');
  for (const scheme of SCHEMES) await checkScreen(page, info, 'backup-plan', scheme, 'Back up');
  await page.getByRole('button', { name: 'Back up', exact: true }).click();
  const status = page.getByRole('status');
  await expect(status).toBeVisible({ timeout: 60_000 });
  await expect(status).not.toContainText(/fail/i);
  await expect(page.locator('dl[aria-label=Backup]')).toContainText(smartBackup);
  for (const scheme of SCHEMES) await checkScreen(page, info, 'backup-result', scheme, 'Back up another');

  // The restore screen reads the backup's own record: smart, per partition; and offers to wipe free space.
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByLabel('Backup path').fill(smartBackup);
  await page.getByRole('button', { name: 'Open' }).click();
  const details = page.locator('dl[aria-label="Backup details"]');
  await expect(details).toContainText('Smart: only what the filesystems use');
  await expect(details).toContainText('1: ext4, used blocks');
  await expect(page.getByRole('figure', { name: 'What the backup holds' })).toContainText(/used, .* free/);
  await expect(page.getByRole('checkbox', { name: 'Wipe free space' })).not.toBeChecked();
  await expect(page.getByText("A smart backup writes only what it stored; the drive's free space keeps its old contents unless wiped.")).toBeVisible();
  await screens(page, info, 'smart-backup-02-restore');
  for (const scheme of SCHEMES) await checkScreen(page, info, 'restore-smart', scheme, 'Restore');
});

test('every sector: the table says each partition is stored whole, and the backup holds every sector (no wipe offered)', async ({ page }) => {
  const { dir, server } = session();
  const source = loop(0);
  const out = path.join(dir, 'every.img.zst');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, source.device, 'radio').check();
  await page.getByRole('radio', { name: 'Every sector (forensics, or a filesystem you do not trust)' }).check();
  const rows = page.getByRole('table', { name: 'What the backup will store' }).getByRole('row');
  await expect(rows.nth(1)).toContainText('whole');
  await expect(rows.nth(2)).toContainText('whole');
  await page.getByLabel('Backup path').fill(out);
  await page.getByRole('button', { name: 'Back up', exact: true }).click();
  await expect(page.locator('dl[aria-label=Backup]')).toContainText(out, { timeout: 60_000 });
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByLabel('Backup path').fill(out);
  await page.getByRole('button', { name: 'Open' }).click();
  const details = page.locator('dl[aria-label="Backup details"]');
  await expect(details).toContainText('Drive size');
  await expect(details).not.toContainText('Smart');
  await expect(page.getByRole('checkbox', { name: 'Wipe free space' })).toHaveCount(0);
});

test('restore the smart backup with "Wipe free space": the target then equals the source byte for byte, old contents gone', async ({ page }, info) => {
  // The first test makes the backup this one restores (the file runs in order): without it, fail, never skip.
  expect(smartBackup !== '' && fs.existsSync(smartBackup), 'the smart backup test left its backup').toBe(true);
  const target = loop(1);
  await openApp(page, session().server.url);
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByLabel('Backup path').fill(smartBackup);
  await page.getByRole('button', { name: 'Open' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, target.device).check();
  await page.getByRole('checkbox', { name: 'Wipe free space' }).check();
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and restore' }).click();
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  for (const scheme of SCHEMES) await checkScreen(page, info, 'restore-result', scheme, 'Restore another');
  // The source's free space is zeros (a fresh file, then mkfs), so only a wiped target can equal it.
  const source = fs.readFileSync(sourceFile);
  expect(readHead(target.device, source.length).equals(source), 'the wiped target equals the source').toBe(true);
});
