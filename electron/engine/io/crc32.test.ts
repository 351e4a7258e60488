import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { crc32, crc32Implementation } from './crc32';

test('the CRC-32 in use is zlib\'s, value for value: whole, continued piece by piece, empty, on shared memory', () => {
  const data = crypto.randomBytes(5 << 20);
  assert.equal(crc32(data), zlib.crc32(data) >>> 0);
  let value = 0;
  for (let at = 0; at < data.length; at += 123_457) value = crc32(data.subarray(at, at + 123_457), value);
  assert.equal(value, zlib.crc32(data) >>> 0, 'continued over odd-sized pieces');
  assert.equal(crc32(Buffer.alloc(0), 0x1234_5678), 0x1234_5678, 'nothing added: the value unchanged');
  const shared = Buffer.from(new SharedArrayBuffer(1 << 20));
  data.copy(shared, 0, 0, shared.length);
  assert.equal(crc32(shared.subarray(7, 70_007)), zlib.crc32(data.subarray(7, 70_007)) >>> 0, 'a view into a SharedArrayBuffer (the restore\'s chunk memory)');
  assert.equal(crc32(new Uint8Array(data.buffer, data.byteOffset + 1, 1000)), zlib.crc32(data.subarray(1, 1001)) >>> 0, 'a plain Uint8Array');
});

test('on Linux x64 and arm64 the fast CRC-32 (crc32fast) is the one in use, also on a worker thread', { skip: !['x64', 'arm64'].includes(process.arch) || process.platform !== 'linux' ? `@node-rs/crc32 is checked on Linux x64/arm64 only (this is ${process.platform} ${process.arch})` : false }, async () => {
  assert.equal(crc32Implementation, 'crc32fast', 'the optional package for this platform is installed (npm ci) and gives the check value');
  // The restore and backup take CRCs on worker threads: the native module must load there too.
  const worker = new Worker(`const { crc32, crc32Implementation } = require(${JSON.stringify(require.resolve('./crc32'))}); require('worker_threads').parentPort.postMessage([crc32Implementation, crc32(Buffer.from('123456789'))]);`, { eval: true });
  const [by, value] = await new Promise<[string, number]>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  assert.deepEqual([by, value], ['crc32fast', 0xcbf43926]);
});

test('IMPRINT_CRC32=zlib (and a platform without the package) uses zlib\'s, with the same values', async () => {
  const worker = new Worker(`const { crc32, crc32Implementation } = require(${JSON.stringify(require.resolve('./crc32'))}); require('worker_threads').parentPort.postMessage([crc32Implementation, crc32(Buffer.from('56789'), crc32(Buffer.from('1234')))]);`, { eval: true, env: { ...process.env, IMPRINT_CRC32: 'zlib' } });
  const [by, value] = await new Promise<[string, number]>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  assert.deepEqual([by, value], ['zlib', 0xcbf43926]);
});
