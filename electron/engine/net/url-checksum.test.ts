import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { ImprintError } from '../errors';
import { TestHttpServer } from '../testing/http-test-server';
import { discoverUrlChecksum, findInSums } from './url-checksum';

let server: TestHttpServer;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
before(async () => (server = await TestHttpServer.start()));
after(() => server.close());
beforeEach(() => {
  server.reset();
  server.files.clear();
});

test('checksum lists: GNU and BSD forms, the exact file name only', () => {
  const sums = `${B}  other.img.xz\n${A} *os.img.xz\nSHA256 (fedora.iso) = ${C.toUpperCase()}\n`;
  assert.equal(findInSums(sums, 'os.img.xz'), A);
  assert.equal(findInSums(sums, 'fedora.iso'), C);
  assert.equal(findInSums(sums, 'os.img'), null);
  assert.equal(findInSums(`${A}  ./sub/os.img.xz`, 'os.img.xz'), A);
});

test('order: --sha256, then URL.sha256, then SHA256SUMS beside it, then the catalogue; each names its source', async () => {
  const url = new URL(server.url('/images/os.img.xz'));
  const catalogue = { sha256: C, from: 'catalogue X, entry Y', of: 'content' as const };
  const http = {};
  assert.deepEqual(await discoverUrlChecksum(url, { http, catalogue }), catalogue);
  server.files.set('/images/SHA256SUMS', Buffer.from(`${B}  os.img.xz\n`));
  assert.deepEqual(await discoverUrlChecksum(url, { http, catalogue }), { sha256: B, from: `${server.url('/images/SHA256SUMS')} (line for os.img.xz)`, of: 'file' });
  server.files.set('/images/os.img.xz.sha256', Buffer.from(`${A}  os.img.xz\n`));
  assert.deepEqual(await discoverUrlChecksum(url, { http, catalogue }), { sha256: A, from: server.url('/images/os.img.xz.sha256'), of: 'file' });
  assert.deepEqual(await discoverUrlChecksum(url, { http, catalogue, sha256: C.toUpperCase() }), { sha256: C, from: '--sha256', of: 'either' });
  await assert.rejects(discoverUrlChecksum(url, { http, sha256: 'abc' }), (err: ImprintError) => err.code === 'E_BAD_ARGUMENTS');
});

test('a checksum file that errors is a warning, and the search goes on', async () => {
  const url = new URL(server.url('/os.img'));
  server.faults = { alwaysStatus: 500 };
  const warnings: string[] = [];
  assert.equal(await discoverUrlChecksum(url, { http: {}, onWarning: (w) => warnings.push(w) }), null);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? '', /os\.img\.sha256.*HTTP 500/);
});
