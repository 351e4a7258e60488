import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { TestHttpServer } from '../testing/http-test-server';
import { DownloadCache, defaultCacheDir, sha256OfFile } from './download-cache';
import { FileSink } from './file-sink';
import { download } from './http-download';

let server: TestHttpServer;
let dir: string;
before(async () => {
  server = await TestHttpServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-cache-test-'));
});
after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Downloads into the cache as a flash does: a temporary file, then commit once verified. */
async function fetchIntoCache(cache: DownloadCache, url: string): Promise<string> {
  const temp = cache.createTemp(url);
  const r = await download(url, new FileSink(temp.fd), { initialBackoffMs: 10 });
  assert.ok(r.sha256, 'the download hashes what it received');
  cache.commit(temp.path, temp.fd, { url, sha256: r.sha256, size: r.bytes });
  return r.sha256;
}

test('a verified download is reused without the network; an altered cached file is not', async () => {
  const cache = new DownloadCache(path.join(dir, 'a'));
  const data = crypto.randomBytes(1 << 20);
  server.files.set('/a.img.xz', data);
  const url = server.url('/a.img.xz');
  server.faults = { resetEvery: 300_000 };
  const sha = await fetchIntoCache(cache, url);
  server.faults = {};
  assert.equal(sha, crypto.createHash('sha256').update(data).digest('hex'));

  const requests = server.requests.length;
  const hit = await cache.find(url, sha);
  assert.ok(hit, 'reused');
  assert.equal(server.requests.length, requests, 'no request made');
  assert.ok(fs.readFileSync(hit.path).equals(data));
  assert.equal(await sha256OfFile(hit.path), sha);
  assert.equal(await cache.find(url, 'f'.repeat(64)), null, 'another expected checksum is not this file');

  // One byte changed on disk: the entry is dropped, never handed out.
  const fd = fs.openSync(hit.path, 'r+');
  fs.writeSync(fd, Buffer.from([data[5000]! ^ 0xff]), 0, 1, 5000);
  fs.closeSync(fd);
  assert.equal(await cache.find(url), null);
  assert.equal(fs.existsSync(hit.path), false);
  assert.deepEqual(cache.list(), []);
});

test('over the size limit the least recently used entries go first; the newest stays', async () => {
  const cache = new DownloadCache(path.join(dir, 'b'), 2_500_000);
  for (const name of ['one', 'two', 'three']) server.files.set(`/${name}.img`, crypto.randomBytes(1_000_000));
  await fetchIntoCache(cache, server.url('/one.img'));
  await fetchIntoCache(cache, server.url('/two.img'));
  // Using "one" makes "two" the oldest.
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(await cache.find(server.url('/one.img')));
  await fetchIntoCache(cache, server.url('/three.img'));
  assert.deepEqual(cache.list().map((e) => e.name).sort(), ['one.img', 'three.img']);
  const big = new DownloadCache(path.join(dir, 'b'), 500_000);
  server.files.set('/four.img', crypto.randomBytes(600_000));
  await fetchIntoCache(big, server.url('/four.img'));
  assert.equal(big.list().some((e) => e.name === 'four.img'), false, 'a file over the whole limit is not kept');
  const cleared = big.clear();
  assert.equal(cleared.entries, 2);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'b')), []);
});

test('an entry recorded by its chunks\' CRC-32s: reused while they match, with a published SHA-256 computed and compared; an altered file is dropped', async () => {
  const cache = new DownloadCache(path.join(dir, 'crc'));
  const chunk = 64 << 10;
  const data = crypto.randomBytes(chunk * 5 + 777);
  // Zeros across a chunk boundary and one whole zero chunk (io/chunk-crc.ts looks their CRC up).
  data.fill(0, chunk + 100, chunk * 3);
  const url = server.url('/crc.img');
  const temp = cache.createTemp(url);
  fs.writeSync(temp.fd, data, 0, data.length, 0);
  // The CRCs as the flash's hasher takes them: zlib's CRC-32 of each chunk, the last one short.
  const crcs: number[] = [];
  for (let at = 0; at < data.length; at += chunk) crcs.push(zlib.crc32(data.subarray(at, at + chunk)) >>> 0);
  cache.commit(temp.path, temp.fd, { url, sha256: null, crc32: { chunkSize: chunk, crcs }, size: data.length });
  const listed = cache.list();
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.sha256, null);
  const sha = crypto.createHash('sha256').update(data).digest('hex');
  assert.ok(await cache.find(url), 'reused by its CRCs');
  assert.ok(await cache.find(url, sha.toUpperCase()), 'a published SHA-256 that the file has');
  assert.equal(await cache.find(url, 'e'.repeat(64)), null, 'a published SHA-256 it does not have');
  assert.equal(cache.list().length, 1, 'kept: the file still matches its record');
  const entry = cache.list()[0] as { path: string };
  const fd = fs.openSync(entry.path, 'r+');
  fs.writeSync(fd, Buffer.from([(data[chunk * 4 + 3] as number) ^ 0x01]), 0, 1, chunk * 4 + 3);
  fs.closeSync(fd);
  assert.equal(await cache.find(url), null, 'one bit changed');
  assert.deepEqual(cache.list(), [], 'and the entry is gone');
  // A record whose CRC list does not fit its size is no entry.
  const t2 = cache.createTemp(url);
  fs.writeSync(t2.fd, data, 0, data.length, 0);
  cache.commit(t2.path, t2.fd, { url, sha256: null, crc32: { chunkSize: chunk, crcs: crcs.slice(1) }, size: data.length });
  assert.deepEqual(cache.list(), []);
});

test('a damaged or crafted record is ignored: it cannot point outside the cache folder', () => {
  const d = path.join(dir, 'c');
  fs.mkdirSync(d);
  const key = 'a'.repeat(24);
  fs.writeFileSync(path.join(d, `${key}.json`), JSON.stringify({ url: 'https://x/y', name: 'y', sha256: 'b'.repeat(64), size: 4, storedAt: 1, usedAt: 1, file: '../../etc/passwd' }));
  fs.writeFileSync(path.join(d, `${'c'.repeat(24)}.json`), '{not json');
  assert.deepEqual(new DownloadCache(d).list(), []);
});

test('the cache folder follows each platform convention', () => {
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux', '/home/u'), '/x/cache/imprint');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/u'), '/home/u/.cache/imprint');
  assert.equal(defaultCacheDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Caches/Imprint');
  assert.equal(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Local\\Imprint\\Cache');
});
