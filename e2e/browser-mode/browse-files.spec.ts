import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seriousAxeViolations } from '../support/axe';
import { lowContrastTexts } from '../support/contrast';
import { SCHEMES, SMALL } from '../support/screen-checks';
import { openApp, useSession } from '../support/session';

/**
 * "Browse files" (issue #16) in browser mode with the real engine: an ISO
 * made by genisoimage (Rock Ridge and Joliet) on the Flash screen, an ext4
 * image made by mkfs.ext4 -d on the Restore screen. The tree is driven
 * from the keyboard (arrows, Space), a file and a folder are extracted,
 * and the extracted bytes are compared with the files the images were made
 * from. axe-core and AA contrast with the dialog open, light and dark.
 */

const MiB = 1024 * 1024;
const notes = 'notes kept in the ISO\n';
const photo = randomBytes(300_000);
let iso = '';
let ext = '';
test.use({ bypassCSP: true });

const session = useSession('browse-files', async (dir) => {
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(path.join(tree, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'photos'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'docs', 'notes.txt'), notes);
  fs.writeFileSync(path.join(tree, 'photos', 'photo.jpg'), photo);
  fs.writeFileSync(path.join(tree, 'readme.txt'), 'top\n');
  iso = path.join(dir, 'files.iso');
  execFileSync('genisoimage', ['-quiet', '-R', '-J', '-V', 'FILESISO', '-o', iso, tree]);
  ext = path.join(dir, 'files-ext4.img');
  fs.writeFileSync(ext, '');
  fs.truncateSync(ext, 8 * MiB);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'FILESEXT', '-d', tree, ext]);
});

test.describe.configure({ mode: 'serial' });

/** Moves through the tree with the keyboard until the focused row's name starts with `name`. */
async function focusRow(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const focused = page.locator('[role=treeitem]:focus');
    if ((await focused.textContent())?.includes(name)) return;
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`no row named ${name}`);
}

test('Flash screen: browse an ISO with the keyboard, extract one file, its bytes match; axe and contrast in both schemes', async ({ page }) => {
  const { server, dir } = session();
  await openApp(page, server.url);
  await page.getByLabel('Image path').fill(iso);
  await page.getByRole('button', { name: 'Use path' }).click();
  await page.getByRole('button', { name: 'Browse files' }).click();
  const dialog = page.getByRole('dialog', { name: 'Files in files.iso' });
  await expect(dialog).toBeVisible();
  const tree = dialog.getByRole('tree', { name: 'Partitions and folders' });
  const part = tree.getByRole('treeitem', { name: /Partition 1: iso9660 "FILESISO"/ });
  await expect(part).toHaveAttribute('aria-expanded', 'false');
  await part.focus();
  await page.keyboard.press('ArrowRight');
  await expect(part).toHaveAttribute('aria-expanded', 'true');
  await expect(tree.getByRole('treeitem', { name: /^docs\// })).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await focusRow(page, 'docs/');
  await page.keyboard.press('ArrowRight');
  // The folder's rows arrive from main; moving down before they are there walks past them (a CI flake).
  await expect(tree.getByRole('treeitem', { name: /notes\.txt/ })).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await focusRow(page, 'notes.txt');
  await page.keyboard.press(' ');
  const row = tree.getByRole('treeitem', { name: /notes\.txt/ });
  await expect(row).toHaveAttribute('aria-selected', 'true');
  await expect(row).toHaveAttribute('aria-level', '3');
  await expect(row).toContainText(`${notes.length} B`);
  // Left goes to the folder, Left again closes it.
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await expect(tree.getByRole('treeitem', { name: /docs\// })).toHaveAttribute('aria-expanded', 'false');

  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize(SMALL);
    expect(await lowContrastTexts(page), `browse files (${scheme}) text below AA contrast`).toEqual([]);
    expect(await seriousAxeViolations(page), `browse files (${scheme}): serious or critical axe-core violations`).toEqual([]);
  }

  const dest = path.join(dir, 'from-iso');
  await dialog.getByLabel('Extract to folder').fill(dest);
  await dialog.getByRole('button', { name: 'Extract 1 selected to…' }).click();
  await expect(dialog.getByText(/Extracted 1 file and 0 folders/)).toBeVisible({ timeout: 30_000 });
  expect(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8')).toBe(notes);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toHaveCount(0);
});

test('Restore screen: browse an ext4 image, tick a folder, choose the destination in the file browser, extract; bytes match', async ({ page }) => {
  const { server, dir } = session();
  const dest = path.join(dir, 'from-ext4');
  fs.mkdirSync(dest);
  await openApp(page, server.url);
  await page.getByRole('tab', { name: 'Restore' }).click();
  await page.getByLabel('Backup path').fill(ext);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await page.getByRole('button', { name: 'Browse files' }).click();
  const dialog = page.getByRole('dialog', { name: 'Files in files-ext4.img' });
  const tree = dialog.getByRole('tree');
  const part = tree.getByRole('treeitem', { name: /Partition 1: ext4 "FILESEXT"/ });
  await part.focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowDown');
  await focusRow(page, 'photos/');
  await page.keyboard.press(' ');
  await expect(tree.getByRole('treeitem', { name: /photos\// })).toHaveAttribute('aria-selected', 'true');

  await dialog.getByRole('button', { name: 'Choose folder…' }).click();
  const chooser = page.getByRole('dialog', { name: 'Choose a folder to extract into' });
  await chooser.getByLabel('Folder').fill(dest);
  await chooser.getByRole('button', { name: 'Open folder' }).click();
  await expect(chooser.getByRole('list', { name: `In ${dest}` })).toBeVisible();
  await chooser.getByRole('button', { name: 'Use this folder' }).click();
  await expect(chooser).toHaveCount(0);
  await expect(dialog.getByLabel('Extract to folder')).toHaveValue(dest);
  await dialog.getByRole('button', { name: 'Extract 1 selected to…' }).click();
  await expect(dialog.getByRole('progressbar', { name: 'Extraction progress' })).toBeVisible();
  await expect(dialog.getByText(/Extracted 1 file and 1 folder /)).toBeVisible({ timeout: 30_000 });
  expect(fs.readFileSync(path.join(dest, 'photos', 'photo.jpg')).equals(photo)).toBe(true);
});
