import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { loadXxh64Low32, xxh64Implementation } from './xxh64';
import { xxhsumLow32 } from '../testing/xxhsum';

/** What a worker thread's loadXxh64Low32 says of "123456789" (and which implementation it used), with `env`. */
async function onWorker(env: NodeJS.ProcessEnv): Promise<[string, number]> {
  const src = `const { loadXxh64Low32, xxh64Implementation } = require(${JSON.stringify(require.resolve('./xxh64'))});
    loadXxh64Low32().then((h) => require('worker_threads').parentPort.postMessage([xxh64Implementation, h(Buffer.from('123456789'))]));`;
  const worker = new Worker(src, { eval: true, env });
  return new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
}

test("the XXH64 in use gives xxhsum's values: 4 MiB of a SharedArrayBuffer (the backup's ring), an offset view, nothing", async () => {
  const h = await loadXxh64Low32();
  const data = crypto.randomBytes(4 << 20);
  const shared = Buffer.from(new SharedArrayBuffer(data.length));
  data.copy(shared);
  assert.equal(h(shared), xxhsumLow32(data));
  assert.equal(h(shared.subarray(13, 70_013)), xxhsumLow32(data.subarray(13, 70_013)));
  assert.equal(h(new Uint8Array(data.buffer, data.byteOffset + 1, 1000)), xxhsumLow32(data.subarray(1, 1001)));
  assert.equal(h(Buffer.alloc(0)), 0x51d8e999, "the empty input's (zstd's checksum of an empty frame)");
});

test('on Linux x64 and arm64 the native XXH64 is the one in use, also on a worker thread', { skip: !['x64', 'arm64'].includes(process.arch) || process.platform !== 'linux' ? `@node-rs/xxhash is checked on Linux x64/arm64 only (this is ${process.platform} ${process.arch})` : false }, async () => {
  assert.equal(xxh64Implementation, 'xxhash-rust', 'the optional package for this platform is installed (npm ci) and gives the known values');
  assert.deepEqual(await onWorker(process.env), ['xxhash-rust', 0x40e6ae83]);
});

test("IMPRINT_XXH64=wasm (and a platform without the package) uses hash-wasm's, with the same values", async () => {
  assert.deepEqual(await onWorker({ ...process.env, IMPRINT_XXH64: 'wasm' }), ['hash-wasm', 0x40e6ae83]);
});
