import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../errors';
import { TestHttpServer } from '../testing/http-test-server';
import { entryChecksums, matchesSearch } from './catalogue';
import { allImages, findImage, loadCatalogue } from './load-catalogue';

const SHA_A = 'ceb7d7489847ed811e7746fa779837f78fc06d43663148a696280e6a1cfe00e3';
const SHA_B = '6939d39cbbfbe85c68dae55f1b2375f17e21fe047b8dc1f84aa7d3c002047afb';
const image = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  description: `${name} for the tests`,
  icon: 'icons/os.png',
  url: `https://downloads.example.org/${name.replace(/\W/g, '_')}.img.xz`,
  extract_size: 4236247040,
  extract_sha256: SHA_A,
  image_download_size: 1306588543,
  release_date: '2022-01-28',
  ...extra,
});

let server: TestHttpServer;
let dir: string;
const http = {};
before(async () => {
  server = await TestHttpServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-catalogue-test-'));
});
after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

function serveJson(p: string, value: unknown): string {
  server.files.set(p, Buffer.from(JSON.stringify(value)));
  return server.url(p);
}

test('Raspberry Pi Imager list: images, inline folders, and subitems_url folders fetched only when opened', async () => {
  const sub = serveJson('/eeprom.json', { os_list: [image('EEPROM recovery', { image_download_sha256: SHA_B })] });
  const url = serveJson('/os_list.json', {
    imager: { latest_version: '1.6' },
    os_list: [image('Raspberry Pi OS (32-bit)'), { name: 'Other', description: 'More', icon: 'icons/cat.png', subitems: [image('Raspberry Pi OS Lite (64-bit)')] }, { name: 'Bootloader', description: 'Boot', subitems_url: sub }, { name: 'Erase', description: 'Format as FAT32', url: 'internal://format' }],
  });
  const cat = await loadCatalogue(url, { http });
  assert.equal(cat.format, 'rpi-imager');
  assert.deepEqual(cat.problems, []);
  assert.deepEqual(server.requests.map((r) => r.path), ['/os_list.json'], 'subitems_url not fetched yet');
  const top = cat.items[0];
  assert.ok(top?.kind === 'image');
  assert.equal(top.icon, server.url('/icons/os.png'), 'relative icon resolved against the list');
  assert.equal(top.extractSize, 4236247040);
  const images = await allImages(cat, { http, expand: true });
  assert.deepEqual(images.map((e) => [...e.path, e.name].join(' / ')), ['Raspberry Pi OS (32-bit)', 'Other / Raspberry Pi OS Lite (64-bit)', 'Bootloader / EEPROM recovery']);
  const eeprom = findImage(images, 'eeprom recovery');
  assert.deepEqual(entryChecksums(eeprom).map((c) => [c.of, c.sha256]), [['content', SHA_A], ['file', SHA_B]]);
  assert.ok(matchesSearch(eeprom, 'bootloader RECOVERY'));
  assert.equal(matchesSearch(eeprom, 'fedora'), false);
});

test('a catalogue that is not JSON, or not either format, is refused naming it', async () => {
  server.files.set('/bad.json', Buffer.from('{"os_list": [ {"name": "x", '));
  await assert.rejects(loadCatalogue(server.url('/bad.json'), { http }), (err: ImprintError) => err.code === 'E_CATALOGUE_INVALID' && err.message.includes('/bad.json is not valid JSON'));
  const file = path.join(dir, 'other.json');
  fs.writeFileSync(file, JSON.stringify({ images: [] }));
  await assert.rejects(loadCatalogue(file, { http }), (err: ImprintError) => err.code === 'E_CATALOGUE_INVALID' && /no "os_list"/.test(err.message));
  await assert.rejects(loadCatalogue(path.join(dir, 'missing.json'), { http }), (err: ImprintError) => err.code === 'E_SOURCE_NOT_FOUND');
  await assert.rejects(loadCatalogue(server.url('/none.json'), { http }), (err: ImprintError) => err.code === 'E_DOWNLOAD_FAILED' && /404/.test(err.message));
});

test('entries with a missing field or a wrong checksum are left out, each named with the field; the rest stay', async () => {
  const file = path.join(dir, 'list.json');
  const noUrl = image('No URL');
  delete noUrl.url;
  fs.writeFileSync(file, JSON.stringify({ os_list: [image('Good'), noUrl, image('Bad checksum', { extract_sha256: 'abc123' }), image('Size as text', { extract_size: '4236247040' }), { name: 42 }, 'text', image('Evil\u001b[2Jname')] }));
  const cat = await loadCatalogue(file, { http });
  const images = await allImages(cat, { http, expand: false });
  assert.deepEqual(images.map((e) => e.name), ['Good', 'Evil [2Jname']);
  assert.equal(images[0]?.icon, null, 'a relative icon in a file catalogue has nothing to resolve against');
  assert.deepEqual(cat.problems, [
    `${file} os_list[1] "No URL": "url" is missing; entry left out.`,
    `${file} os_list[2] "Bad checksum": "extract_sha256" must be a SHA-256 (64 hexadecimal digits), not "abc123"; entry left out.`,
    `${file} os_list[3] "Size as text": "extract_size" must be a whole number of bytes, not "4236247040"; entry left out.`,
    `${file} os_list[4]: "name" must be text, not number 42; entry left out.`,
    `${file} os_list[5]: an entry must be an object.`,
  ]);
  assert.throws(() => findImage(images, 'Bad checksum', cat.problems), (err: ImprintError) => err.code === 'E_CATALOGUE_INVALID' && /must be a SHA-256/.test(err.message));
  assert.throws(() => findImage(images, 'Nothing like it', cat.problems), (err: ImprintError) => err.code === 'E_CATALOGUE_NO_MATCH');
});

test('a subitems_url that points back at itself is followed a bounded number of levels', async () => {
  const url = server.url('/loop.json');
  serveJson('/loop.json', { os_list: [image('Leaf'), { name: 'Again', description: '', subitems_url: url }] });
  const cat = await loadCatalogue(url, { http });
  const images = await allImages(cat, { http, expand: true });
  assert.equal(server.requests.length, 4, 'the list and three levels below it');
  assert.equal(images.length, 4);
  assert.throws(() => findImage(images, 'Leaf'), (err: ImprintError) => err.code === 'E_CATALOGUE_NO_MATCH' && /matches 4 entries/.test(err.message));
  assert.equal(findImage(images, 'Again / Leaf').path.length, 1);
});

test('Fedora releases.json: ISOs and raw.xz disks per variant, sizes from digit strings; broken entries named', async () => {
  const entry = (link: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ version: '40', arch: 'x86_64', link, variant: 'Workstation', subvariant: 'Workstation', sha256: SHA_A, size: '2063591424', ...extra });
  const url = serveJson('/releases.json', [
    entry('https://download.fedoraproject.org/pub/fedora/linux/releases/40/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-40-1.14.iso'),
    entry('https://download.fedoraproject.org/pub/fedora/linux/releases/40/Cloud/x86_64/images/Fedora-Cloud-Base-40.x86_64.qcow2', { variant: 'Cloud' }),
    entry('https://download.fedoraproject.org/pub/fedora/linux/releases/40/Server/aarch64/images/Fedora-Server-40.aarch64.raw.xz', { variant: 'Server', subvariant: 'Server', arch: 'aarch64', size: '1565101632' }),
    entry('https://download.fedoraproject.org/x/Fedora-KDE-Live-x86_64-40.iso', { subvariant: 'KDE', variant: 'Spins', sha256: 'nope' }),
    entry('https://download.fedoraproject.org/x/Fedora-Xfce-Live-x86_64-40.iso', { subvariant: 'Xfce', variant: 'Spins', size: -1 }),
  ]);
  const cat = await loadCatalogue(url, { http });
  assert.equal(cat.format, 'fedora-media-writer');
  const images = await allImages(cat, { http, expand: true });
  assert.deepEqual(images.map((e) => [e.path.join('/'), e.name, e.downloadSize]), [['Workstation', 'Fedora Workstation 40 x86_64', 2063591424], ['Server', 'Fedora Server 40 aarch64', 1565101632]]);
  assert.deepEqual(entryChecksums(images[0]!).map((c) => c.of), ['file']);
  assert.equal(cat.problems.length, 2);
  assert.match(cat.problems[0] ?? '', /\[3\] \(Fedora-KDE-Live-x86_64-40\.iso\): "sha256" must be a SHA-256/);
  assert.match(cat.problems[1] ?? '', /\[4\] \(Fedora-Xfce-Live-x86_64-40\.iso\): "size" must be a whole number of bytes, not number -1/);
});
