import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestHttpServer } from '../engine/testing/http-test-server';
import { CatalogueBrowser, imageMimeOf } from './catalogue-browser';
import { ImprintService } from './imprint-service';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-catalogue-browser-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A real PNG, written by Python with zlib: the format's own chunks, checksummed by a real encoder. */
function makePng(): Buffer {
  const file = path.join(dir, 'icon.png');
  // A 2x2 RGB PNG written with Python's zlib and struct, the format's own chunks (signature, IHDR, IDAT, IEND).
  execFileSync('python3', ['-c', `
import struct, zlib, sys
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\\x00' + b'\\xff\\x00\\x00' * 2 for _ in range(2))
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 2, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
`, file]);
  return fs.readFileSync(file);
}

const SHA = 'a'.repeat(64);

function entry(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, description: `${name} for tests`, url: `/images/${name.replace(/\W+/g, '-')}.img.xz`, icon: 'icons/os.png', release_date: '2026-11-02', extract_size: 1 << 20, image_download_size: 4096, extract_sha256: SHA, ...extra };
}

test('lists folders and images with icons as data, opens subitems_url folders when browsed, searches every folder, and names entries by id', async () => {
  const png = makePng();
  const server = await TestHttpServer.start();
  try {
    server.files.set('/icons/os.png', png);
    server.files.set('/icons/not-a-picture.png', Buffer.from('<svg onload="alert(1)"></svg>'));
    server.files.set('/more.json', Buffer.from(JSON.stringify({ os_list: [entry('Deep Linux'), entry('Deep BSD', { icon: 'icons/missing.png' })] })));
    const list = { os_list: [entry('Top OS'), { name: 'Others', description: 'More systems', icon: 'icons/not-a-picture.png', subitems_url: 'more.json' }, { name: 'Inline', description: 'Inline folder', subitems: [entry('Inline Linux')] }] };
    server.files.set('/os_list.json', Buffer.from(JSON.stringify(list)));
    const source = server.url('/os_list.json');
    const browser = new CatalogueBrowser([{ name: 'test', source }], {});
    assert.equal(server.requests.length, 0, 'nothing is fetched before the catalogue is opened');

    const top = await browser.list({});
    assert.equal(top.source, source);
    assert.deepEqual(top.items.map((i) => `${i.kind}:${i.name}`), ['image:Top OS', 'folder:Others', 'folder:Inline']);
    const first = top.items[0];
    assert.ok(first?.kind === 'image');
    assert.equal(first.icon, `data:image/png;base64,${png.toString('base64')}`);
    assert.equal(first.releaseDate, '2026-11-02');
    assert.equal(first.extractSize, 1 << 20);
    assert.equal(first.checksum, true);
    assert.equal(top.items[1]?.icon, null, 'an icon that is not a picture is dropped');
    assert.ok(!server.requests.some((r) => r.path === '/more.json'), 'a subitems_url folder is fetched only when opened');
    assert.equal(server.requests.filter((r) => r.path === '/icons/os.png').length, 1, 'one icon fetched once for every entry using it');

    const deep = await browser.list({ folder: ['Others'] });
    assert.deepEqual(deep.items.map((i) => i.name), ['Deep Linux', 'Deep BSD']);
    assert.equal(deep.items[1]?.icon, null, 'a missing icon costs the picture only');

    const found = await browser.list({ search: 'linux' });
    assert.deepEqual(found.items.map((i) => i.name).sort(), ['Deep Linux', 'Inline Linux', 'Top OS'].filter((n) => /linux/i.test(n)).sort());
    const hit = found.items.find((i) => i.name === 'Deep Linux');
    assert.ok(hit?.kind === 'image');
    assert.equal(browser.entry(hit.id).image.url, server.url('/images/Deep-Linux.img.xz'));
    assert.equal(browser.entry(hit.id).source, source);
    assert.throws(() => browser.entry('e999'), /not known/);

    await assert.rejects(browser.list({ folder: ['Nowhere'] }), /no folder "Nowhere"/);
    await assert.rejects(browser.list({ source: '/etc/passwd' }), /by its address/);
    await assert.rejects(browser.list({ source: server.url('/gone.json') }), /not there \(HTTP 404\)/);
  } finally {
    await server.close();
  }
});

test('pictures are told by their bytes', () => {
  assert.equal(imageMimeOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
  assert.equal(imageMimeOf(Buffer.from('GIF89a......')), 'image/gif');
  assert.equal(imageMimeOf(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp');
  assert.equal(imageMimeOf(Buffer.from('<svg/>')), null);
  assert.equal(imageMimeOf(Buffer.alloc(0)), null);
});

test('the service answers loadCatalogue from the configured source and refuses a flash of an unknown entry or a bad URL', async () => {
  const server = await TestHttpServer.start();
  const service = new ImprintService({ listDrives: async () => [], drivePollMs: 60_000, web: { catalogues: [{ name: 'test', source: server.url('/os_list.json') }], http: {}, cache: null }, log: () => {} });
  try {
    server.files.set('/os_list.json', Buffer.from(JSON.stringify({ os_list: [entry('Only OS', { icon: null })] })));
    const r = await service.call('loadCatalogue', {});
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.value.items.map((i) => i.name), ['Only OS']);
    const unknown = await service.call('startFlashOs', { entryId: 'e4242', targets: ['/dev/null'], verify: true });
    assert.ok(!unknown.ok && unknown.error.code === 'E_CATALOGUE_NO_MATCH');
    const ftp = await service.call('startFlashUrl', { url: 'ftp://example.org/os.img', targets: [path.join(dir, 'out.img')], verify: true });
    assert.ok(!ftp.ok);
    assert.match(ftp.error.message, /ftp/i);
  } finally {
    await service.dispose();
    await server.close();
  }
});
