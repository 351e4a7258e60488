import { test, expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestHttpServer } from '../../electron/engine/testing/http-test-server';
import { gzipOf, makeRawImage } from '../support/images';
import { attachLoop, attachLoopOver, readHead, type LoopDevice } from '../support/loop-devices';
import { seriousAxeViolations } from '../support/axe';
import { lowContrastTexts } from '../support/contrast';
import { checkScreen, SCHEMES } from '../support/screen-checks';
import { recordProgress, screens } from '../support/screens';
import { driveControl, openApp, useSession } from '../support/session';
import { makeMarkedFile, makePng, sha256Of, xzOf } from '../support/web-fixtures';

/**
 * Flashing from the web in the app: a loopback HTTP server (the engine
 * tests' own, in this process) serves a small image as .img.gz and .img.xz
 * made by the real tools, and a Raspberry Pi Imager style catalogue with a
 * folder behind subitems_url and a PNG icon. Browser mode is started with
 * IMPRINT_CATALOGUES pointing at it: the public lists are never contacted.
 */

const MiB = 1024 * 1024;
const IMAGE_MIB = 6;
/** The loop drive whose first MiB is marked, to show a failed flash never wrote it. */
const MARK = 0x5a;

let server: TestHttpServer | null = null;
let raw: Buffer = Buffer.alloc(0);
let gz: Buffer = Buffer.alloc(0);
let xz: Buffer = Buffer.alloc(0);
let png: Buffer = Buffer.alloc(0);
const srv = () => server as TestHttpServer;

const session = useSession('flash-web', async (dir, loops) => {
  const rawFile = makeRawImage(dir, 'web.img', IMAGE_MIB);
  raw = fs.readFileSync(rawFile);
  gz = fs.readFileSync(gzipOf(rawFile));
  xz = fs.readFileSync(xzOf(rawFile));
  png = makePng(dir, 'icon.png');
  server = await TestHttpServer.start();
  const s = srv();
  s.files.set('/images/web.img.gz', gz);
  s.files.set('/images/web.img.xz', xz);
  // The same bytes at another address: the wrong-checksum test must not meet the first test's cached download.
  s.files.set('/images/copy.img.gz', gz);
  s.files.set('/icons/os.png', png);
  const entry = (name: string, file: string, data: Buffer) => ({
    name,
    description: `${name}: a ${IMAGE_MIB} MiB image for the end-to-end tests`,
    url: `images/${file}`,
    icon: 'icons/os.png',
    release_date: '2026-11-02',
    extract_size: raw.length,
    extract_sha256: sha256Of(raw),
    image_download_size: data.length,
    image_download_sha256: sha256Of(data),
  });
  s.files.set('/tools.json', Buffer.from(JSON.stringify({ os_list: [entry('Web Test OS (xz)', 'web.img.xz', xz)] })));
  s.files.set(
    '/os_list.json',
    Buffer.from(JSON.stringify({ os_list: [entry('Web Test OS (gzip)', 'web.img.gz', gz), { name: 'Test tools', description: 'More images, in a list of their own', icon: 'icons/os.png', subitems_url: 'tools.json' }] })),
  );
  loops.push(await attachLoop(dir, 'url-target.bin', 16 * MiB)); // 0
  loops.push(await attachLoop(dir, 'os-target.bin', 16 * MiB)); // 1
  loops.push(await attachLoopOver(makeMarkedFile(dir, 'failed-target.bin', 16 * MiB, MARK))); // 2
  return { IMPRINT_CATALOGUES: s.url('/os_list.json'), IMPRINT_CACHE_DIR: path.join(dir, 'cache') };
});
test.afterAll(async () => {
  await server?.close();
});
const loop = (i: number) => session().loops[i] as LoopDevice;

test.describe.configure({ mode: 'serial' });
// axe-core is injected as a script, which the app's CSP would refuse (checkScreen runs it).
test.use({ bypassCSP: true });
// Owned here: each screen check runs axe-core and a contrast scan in two schemes (~10 s a screen on this shared machine), on top of a flash.
test.setTimeout(240_000);

/** Every request the page makes: none may leave the app's own origin (icons come as data). */
function pageRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => seen.push(r.url()));
  return seen;
}

async function flashOnto(page: Page, device: string, shots?: (step: string) => Promise<void>) {
  await page.getByRole('checkbox', { name: 'Show all drives' }).check();
  await driveControl(page, device).check();
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(device);
  await shots?.('web-confirm');
  await dialog.getByRole('button', { name: 'Erase and flash' }).click();
}

function targetRow(page: Page, device: string) {
  return page.getByRole('list', { name: 'Drives' }).getByRole('listitem').filter({ hasText: device });
}

test('flash from URL: the address and SHA-256 are checked as typed, then the .img.gz downloads onto a loop drive, byte-exact', async ({ page }, info) => {
  await recordProgress(page);
  const requests = pageRequests(page);
  const target = loop(0);
  await openApp(page, session().server.url);
  await page.getByRole('button', { name: 'Flash from URL…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Flash from URL' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Image address')).toBeFocused();
  for (const scheme of SCHEMES) await checkScreen(page, info, 'web-url-dialog', scheme, 'Use this URL');

  await dialog.getByLabel('Image address').fill('ftp://127.0.0.1/images/web.img.gz');
  await dialog.getByLabel('SHA-256 (optional)').fill('1234');
  await dialog.getByRole('button', { name: 'Use this URL' }).click();
  await expect(dialog.getByRole('alert').filter({ hasText: 'not ftp' })).toBeVisible();
  await expect(dialog.getByRole('alert').filter({ hasText: '64 hexadecimal digits' })).toBeVisible();
  await expect(dialog.getByLabel('Image address')).toHaveAttribute('aria-invalid', 'true');
  // The errors' colours and roles, in both schemes (the layout was checked above).
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await seriousAxeViolations(page), `URL errors (${scheme}): serious or critical axe-core violations`).toEqual([]);
    expect(await lowContrastTexts(page), `URL errors (${scheme}): text below AA contrast`).toEqual([]);
  }
  await screens(page, info, 'web-url-invalid');

  await dialog.getByLabel('Image address').fill(srv().url('/images/web.img.gz'));
  await dialog.getByLabel('SHA-256 (optional)').fill(sha256Of(gz).toUpperCase());
  await dialog.getByRole('button', { name: 'Use this URL' }).click();
  await expect(dialog).toHaveCount(0);
  const facts = page.getByRole('definition');
  await expect(facts.filter({ hasText: /^web\.img\.gz$/ })).toBeVisible();
  await expect(facts.filter({ hasText: 'the SHA-256 you gave' })).toBeVisible();
  await screens(page, info, 'web-01-url-chosen');

  // Slow enough to see the download's counters: ~2.5 s for the ~6 MiB .gz.
  srv().faults = { throttle: 2.5 * MiB };
  try {
    await flashOnto(page, target.device, (step) => screens(page, info, step));
    const stats = page.getByRole('group', { name: 'Download' }).or(page.locator('dl[aria-label="Download"]'));
    await expect(stats).toContainText('Downloaded');
    await expect(stats).toContainText('Written');
    await expect(stats).toContainText('Verified');
    await expect(stats).toContainText(/Held up by(the network|decompression|the drive|reconnecting)/);
    await screens(page, info, 'web-02-downloading');
    await expect(targetRow(page, target.device)).toContainText('Verified', { timeout: 60_000 });
  } finally {
    srv().faults = {};
  }
  await expect(page.getByRole('status')).toContainText('verified');
  await screens(page, info, 'web-03-verified');
  expect(readHead(target.device, raw.length).equals(raw), 'the drive holds the image byte for byte').toBe(true);
  const origin = new URL(session().server.url).origin;
  expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:')), 'the page itself fetched nothing from the web').toEqual([]);
});

test('choose an OS: nothing is fetched until the catalogue opens; icons arrive as data; folders open; search finds the entry in a folder; its .xz flashes byte-exact', async ({ page }, info) => {
  const requests = pageRequests(page);
  const target = loop(1);
  const before = srv().requests.length;
  await openApp(page, session().server.url);
  expect(srv().requests.length, 'opening the app fetched no catalogue').toBe(before);

  await page.getByRole('button', { name: 'Choose OS…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Choose an operating system' });
  const list = dialog.getByRole('list', { name: 'Catalogue' });
  await expect(list.getByRole('button', { name: /Web Test OS \(gzip\)/ })).toBeVisible();
  await expect(list.getByRole('button', { name: /^Test tools \(folder\)/ })).toBeVisible();
  await expect(list.getByRole('listitem').first()).toContainText('Released 2026-11-02');
  const icon = await list.locator('img').first().getAttribute('src');
  expect(icon).toBe(`data:image/png;base64,${png.toString('base64')}`);
  expect(srv().requests.some((r) => r.path === '/tools.json'), 'a folder behind subitems_url is fetched only when opened').toBe(false);
  for (const scheme of SCHEMES) await checkScreen(page, info, 'web-catalogue', scheme, 'Cancel');

  await list.getByRole('button', { name: /^Test tools \(folder\)/ }).click();
  const inFolder = dialog.getByRole('list', { name: 'In Test tools' });
  await expect(inFolder.getByRole('button', { name: /Web Test OS \(xz\)/ })).toBeVisible();
  await screens(page, info, 'web-04-catalogue-folder');
  await dialog.getByRole('button', { name: '← Back' }).click();
  await expect(list.getByRole('button', { name: /^Test tools \(folder\)/ })).toBeVisible();

  await dialog.getByRole('searchbox', { name: 'Search' }).fill('xz');
  const results = dialog.getByRole('list', { name: 'Search results' });
  await expect(results.getByRole('listitem')).toHaveCount(1);
  await expect(results.getByRole('listitem')).toContainText('in Test tools');
  await dialog.getByRole('searchbox', { name: 'Search' }).fill('no such system');
  await expect(dialog.getByText('Nothing matches: try fewer words.')).toBeVisible();
  await dialog.getByRole('searchbox', { name: 'Search' }).fill('test xz');
  for (const scheme of SCHEMES) await checkScreen(page, info, 'web-catalogue-search', scheme, 'Cancel');
  await results.getByRole('button', { name: /Web Test OS \(xz\)/ }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('definition').filter({ hasText: "the catalogue's SHA-256" })).toBeVisible();
  await expect(page.getByRole('definition').filter({ hasText: 'Test tools' })).toBeVisible();
  await screens(page, info, 'web-05-os-chosen');

  await flashOnto(page, target.device);
  await expect(targetRow(page, target.device)).toContainText('Verified', { timeout: 60_000 });
  await screens(page, info, 'web-06-os-verified');
  expect(readHead(target.device, raw.length).equals(raw), 'the drive holds the image byte for byte').toBe(true);
  const origin = new URL(session().server.url).origin;
  expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:')), 'the page itself fetched nothing from the web').toEqual([]);
});

test('an address that is not there ends in a clear message, and the drive is not touched', async ({ page }, info) => {
  const target = loop(2);
  await openApp(page, session().server.url);
  await page.getByRole('button', { name: 'Flash from URL…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Flash from URL' });
  await dialog.getByLabel('Image address').fill(srv().url('/images/missing.img.gz'));
  await dialog.getByRole('button', { name: 'Use this URL' }).click();
  await flashOnto(page, target.device);
  await expect(page.getByText(/HTTP 404.*no such file on the server/).first()).toBeVisible({ timeout: 60_000 });
  await screens(page, info, 'web-07-not-found');
  expect(readHead(target.device, MiB).equals(Buffer.alloc(MiB, MARK)), 'the first MiB is as it was').toBe(true);
});

/**
 * A .gz is written while it downloads, so the checksum is known only at the
 * end: the engine has wiped the drive's old partition tables by then (as any
 * flash does when it opens a drive), and holds back the image's first MiB
 * until the checksum matches. So the drive ends neither as it was nor as a
 * disk that looks valid (flash-url.integration.test.ts checks the same in the CLI).
 */
test('a wrong SHA-256 fails the flash with a message saying so, and the image\'s first MiB never reaches the drive', async ({ page }, info) => {
  const target = loop(2);
  await openApp(page, session().server.url);
  await page.getByRole('button', { name: 'Flash from URL…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Flash from URL' });
  await dialog.getByLabel('Image address').fill(srv().url('/images/copy.img.gz'));
  await dialog.getByLabel('SHA-256 (optional)').fill('ab'.repeat(32));
  await dialog.getByRole('button', { name: 'Use this URL' }).click();
  await flashOnto(page, target.device);
  await expect(page.getByText(/SHA-256 does not match/).first()).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText(new RegExp(`expected ${'ab'.repeat(32)}`)).first()).toBeVisible();
  await screens(page, info, 'web-08-wrong-checksum');
  const head = readHead(target.device, MiB);
  expect(head.equals(raw.subarray(0, MiB)), "the image's first MiB reached the drive").toBe(false);
  expect(head.subarray(510, 512).toString('hex'), 'the drive looks like a valid MBR disk').not.toBe('55aa');
  expect(raw.subarray(510, 512).toString('hex'), 'the image itself has an MBR (so the check above means something)').toBe('55aa');
});
