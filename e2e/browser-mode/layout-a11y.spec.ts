import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeRawImage } from '../support/images';
import { attachLoop, type LoopDevice } from '../support/loop-devices';
import { seriousAxeViolations } from '../support/axe';
import { lowContrastTexts } from '../support/contrast';
import { checkScreen, SCHEMES, SMALL } from '../support/screen-checks';
import { driveControl, openApp, useSession } from '../support/session';

const MiB = 1024 * 1024;

let image = '';
// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });

const session = useSession('layout', async (dir, loops) => {
  image = makeRawImage(dir, 'disk.img', 8);
  // A real FAT filesystem in its partition (sector 2048), so the drive map has a filesystem and label to show.
  execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'IMPRINT', image, String(((8 * MiB) - 2048 * 512) / 1024)], { stdio: 'ignore' });
  loops.push(await attachLoop(dir, 'target.bin', 16 * MiB)); // 0: flash target, then the drive backed up
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });

test('each screen at 800x600 and 1920x1080, light and dark: action in view, no sideways scroll, AA contrast; <main> is a landmark; a favicon', async ({ page }, info) => {
  const { server, dir } = session();
  await openApp(page, server.url);
  await expect(page.getByRole('main')).toHaveCount(1);
  const icon = await page.evaluate(async () => {
    const href = document.querySelector<HTMLLinkElement>('link[rel=icon]')?.href;
    return href ? (await fetch(href)).status : 0;
  });
  expect(icon, 'the favicon is served').toBe(200);
  // Browser mode has no open dialog: "Choose image…" opens the service's file browser.
  await page.getByRole('button', { name: 'Choose image…' }).click();
  const browser = page.getByRole('dialog', { name: 'Choose an image' });
  await expect(browser).toBeVisible();
  await browser.getByLabel('Folder').fill(dir);
  await browser.getByRole('button', { name: 'Open folder' }).click();
  await expect(browser.getByRole('list', { name: `In ${dir}` })).toBeVisible();
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await lowContrastTexts(page), `file browser (${scheme}) text below AA contrast`).toEqual([]);
    const shot = info.outputPath(`file-browser-${scheme}-800x600.png`);
    await page.setViewportSize(SMALL);
    await page.screenshot({ path: shot });
    await info.attach(`file-browser-${scheme}-800x600`, { path: shot, contentType: 'image/png' });
  }
  await browser.getByRole('button', { name: /^disk\.img\b/ }).click();
  await expect(browser).toHaveCount(0);
  await expect(page.getByLabel('Image path')).toHaveValue(image);
  await expect(page.getByRole('definition').filter({ hasText: 'disk.img' })).toBeVisible();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, loop(0).device).check();
  // The image's drive map: its partition to scale, with filesystem and label in words.
  const map = page.getByRole('figure', { name: 'What the image holds' });
  await expect(map).toContainText('1: vfat "IMPRINT"');
  for (const scheme of SCHEMES) await checkScreen(page, info, 'flash-form', scheme, 'Flash');

  await page.getByRole('tab', { name: 'Back up' }).click();
  await driveControl(page, loop(0).device, 'radio').check();
  await page.getByLabel('Backup path').fill(path.join(dir, 'layout.img.zst'));
  for (const scheme of SCHEMES) await checkScreen(page, info, 'backup-form', scheme, 'Back up');

  await page.getByRole('tab', { name: 'Restore' }).click();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'restore-form', scheme, 'Restore');
});

test('a flash result says how long, how fast, which drive, how it was verified, and that the drive can be removed; focus follows the job', async ({ page }, info) => {
  const { server } = session();
  await openApp(page, server.url);
  await page.getByLabel('Image path').fill(image);
  await page.getByRole('button', { name: 'Use path' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, loop(0).device).check();
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Erase and flash' }).click();
  const status = page.getByRole('status');
  await expect(status).toContainText('verified', { timeout: 60_000 });
  await expect(status).toBeFocused();
  const summary = page.locator('dl[aria-label=Summary]');
  await expect(summary).toContainText(/Took\s*(\d+:\d\d|under a second)/);
  await expect(summary).toContainText(/Average speed\s*[\d.]+ MB\/s/);
  await expect(summary).toContainText(/Written\s*8\.39 MB/);
  await expect(summary).toContainText(`Loop device over ${loop(0).backingFile}, 16.8 MB`);
  await expect(summary).toContainText(/read back from the device/);
  await expect(page.getByText(/you can remove it now/)).toBeVisible();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'flash-result', scheme, 'Flash another');
});

test('Back up checks its destination before it is enabled: a missing folder, an existing file and "Replace the existing file"', async ({ page }, info) => {
  const { server, dir } = session();
  const taken = path.join(dir, 'taken.img.zst');
  fs.writeFileSync(taken, 'an older backup');
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Back up' }).click();
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, loop(0).device, 'radio').check();
  // The drive about to be backed up holds what the previous test flashed: its map says so.
  await expect(page.getByRole('figure', { name: `On ${loop(0).device} now` })).toContainText('1: vfat "IMPRINT"');
  const backUp = page.getByRole('button', { name: 'Back up', exact: true });
  await page.getByLabel('Backup path').fill(path.join(dir, 'no-such-folder', 'b.img.zst'));
  await expect(page.getByText(`The folder ${path.join(dir, 'no-such-folder')} does not exist`)).toBeVisible();
  await expect(backUp).toBeDisabled();
  await page.getByLabel('Backup path').fill(taken);
  const replace = page.getByRole('checkbox', { name: 'Replace the existing file' });
  await expect(replace).toBeVisible();
  await expect(backUp).toBeDisabled();
  await expect(page.getByText(/tick "Replace the existing file"/)).toBeVisible();
  await page.emulateMedia({ colorScheme: 'light' });
  const file = info.outputPath('backup-existing-file-800x600.png');
  await page.setViewportSize(SMALL);
  await page.screenshot({ path: file });
  await info.attach('backup-existing-file-800x600', { path: file, contentType: 'image/png' });
  await replace.check();
  await expect(backUp).toBeEnabled();
  await page.getByLabel('Backup path').fill(path.join(dir, 'fresh.img.zst'));
  await expect(replace).toHaveCount(0);
  await expect(backUp).toBeEnabled();
  expect(fs.readFileSync(taken, 'utf8'), 'nothing was replaced').toBe('an older backup');
});

test('the axe check that every screen passes does catch problems: an image without alt text and a nameless button', async ({ page }) => {
  await page.setContent('<!doctype html><html lang="en"><head><title>t</title></head><body><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button></main></body></html>');
  const rules = (await seriousAxeViolations(page)).map((v) => v.rule).sort();
  expect(rules).toEqual(['button-name', 'image-alt']);
});
