import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../support/browser-mode';
import { makeRawImage } from '../support/images';
import { attachLoop, attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;
const SOURCE_MIB = 16;

let content: Buffer = Buffer.alloc(0);
const session = useSession('backup', async (dir, loops) => {
  // The source drive: a loop device over a file with a partition table and random data, half zeros.
  const img = makeRawImage(dir, 'source-content.img', SOURCE_MIB / 2);
  const source = path.join(dir, 'source.bin');
  fs.writeFileSync(source, Buffer.concat([fs.readFileSync(img), Buffer.alloc((SOURCE_MIB / 2) * MiB)]));
  content = fs.readFileSync(source);
  loops.push(await attachLoop(dir, 'restore-target.bin', 24 * MiB)); // 0: restore target
  loops.push(await attachLoop(dir, 'too-small.bin', 4 * MiB)); // 1: cannot hold the backup
  loops.push(await attachLoopOver(source)); // 2: the drive to back up
});
const loop = (i: number) => session().loops[i] as LoopDevice;

// Not serial: the restore test does not depend on the backup test passing
// (it makes its own backup when there is none), so a failed backup through
// the UI does not hide whether restore works.
let backupFile = '';

/**
 * A backup of the source drive made with the CLI, for when the backup test
 * did not leave one (it failed, or the restore test runs alone with -g).
 */
function backupWithCli(dir: string, device: string): string {
  const out = path.join(dir, 'cli-backup.img.zst');
  fs.rmSync(out, { force: true });
  // 60 s, owned here: a 16 MiB backup takes about a second; the rest is a busy machine.
  execFileSync(process.execPath, [path.join(REPO, 'bin', 'imprint.js'), 'backup', device, out, '--yes'], { cwd: REPO, stdio: 'pipe', timeout: 60_000 });
  return out;
}

test('back up a loop device to a zstd file through the UI: progress, then file, size, ratio and SHA-256', async ({ page }, info) => {
  const { dir, server } = session();
  const source = loop(2);
  backupFile = path.join(dir, 'backup.img.zst');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, source.device, 'radio').check();
  await page.getByLabel('Backup path').fill(backupFile);
  await expect(page.getByLabel('Compression')).toHaveValue('zstd');
  await screens(page, info, 'backup-01-form');
  await page.getByRole('button', { name: 'Back up', exact: true }).click();
  const status = page.getByRole('status');
  await expect(status).toBeVisible({ timeout: 60_000 });
  await expect(status).not.toContainText(/fail/i);
  const sha = createHash('sha256').update(content).digest('hex');
  const facts = page.locator('dl[aria-label=Backup]');
  await expect(facts).toContainText(sha);
  await expect(facts).toContainText(backupFile);
  await expect(facts).toContainText(/% of original/);
  // Browser mode has no file manager to show the file in: the button is not offered (the path is shown above).
  await expect(page.getByRole('button', { name: 'Show in folder' })).toHaveCount(0);
  await screens(page, info, 'backup-02-done');
  expect(fs.existsSync(backupFile), 'the backup file exists').toBe(true);
  expect(fs.statSync(backupFile).size).toBeLessThan(content.length);
});

test('restore the backup onto another loop device: the backup describes itself first, then Verified and the bytes match', async ({ page }, info) => {
  if (!backupFile || !fs.existsSync(backupFile)) {
    const why = backupFile ? `the backup test did not leave ${backupFile}` : 'the backup test did not run in this worker';
    console.log(`[e2e backup] restore: ${why}; making the backup with the CLI (imprint backup ${loop(2).device})`);
    info.annotations.push({ type: 'backup made by the CLI', description: why });
    backupFile = backupWithCli(session().dir, loop(2).device);
  }
  const target = loop(0);
  const small = loop(1);
  await openApp(page, session().server.url);
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByLabel('Backup path').fill(backupFile);
  await page.getByRole('button', { name: 'Open' }).click();
  const details = page.locator('dl[aria-label="Backup details"]');
  await expect(details).toContainText(createHash('sha256').update(content).digest('hex'));
  await expect(details).toContainText(`${(content.length / 1e6).toFixed(1)} MB`);
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await expect(driveControl(page, small.device)).toBeDisabled();
  await driveControl(page, target.device).check();
  await screens(page, info, 'restore-01-form');
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(target.device);
  await screens(page, info, 'restore-02-confirm');
  await dialog.getByRole('button', { name: 'Erase and restore' }).click();
  const row = page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: target.device });
  await expect(row).toContainText('Verified', { timeout: 60_000 });
  await screens(page, info, 'restore-03-verified');
  expect(readHead(target.device, content.length).equals(content), 'the restored drive equals the source').toBe(true);
});
