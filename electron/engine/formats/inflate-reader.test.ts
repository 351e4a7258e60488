import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { canInflateInPlace, InflateReader, type InflateReaderOptions } from './inflate-reader';
import { findZipImage } from './zip-entry';
import { fixtureDir, MiB, pseudoRandom } from '../testing/image-fixtures';

/** Content shaped like an image: random data, a long run of zeros, text. */
const content = Buffer.concat([pseudoRandom(3 * MiB + 4321, 'inflate-reader'), Buffer.alloc(5 * MiB), Buffer.from('the end of the image\n'.repeat(20_000))]);

function folder(): string {
  return fs.mkdtempSync(path.join(fixtureDir(), 'inflate-reader-'));
}

/** `data` compressed by the real gzip program. */
function gzipped(dir: string, name: string, data: Buffer): string {
  const raw = path.join(dir, name);
  fs.writeFileSync(raw, data);
  execFileSync('gzip', ['-6', '-f', raw]);
  return `${raw}.gz`;
}

/** Reads everything through the reader into destinations of `size` bytes, as the ring's slots are filled. */
async function readAll(file: string, opts: InflateReaderOptions, size: number): Promise<Buffer> {
  const reader = new InflateReader(file, opts);
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const dst = Buffer.alloc(size);
      const n = await reader.read(dst);
      if (n === 0) break;
      parts.push(dst.subarray(0, n));
      // Only the last read may come back short.
      if (n < size) assert.equal(await reader.read(Buffer.alloc(size)), 0, 'a short read is the end');
      if (n < size) break;
    }
  } finally {
    await reader.close();
  }
  return Buffer.concat(parts);
}

async function failure(file: string, opts: InflateReaderOptions): Promise<Error> {
  try {
    await readAll(file, opts, MiB);
  } catch (err) {
    return err as Error;
  }
  assert.fail(`${file} was read without an error`);
}

test('this Node inflates into a given buffer (else flashing a .gz or .zip quietly takes the slower stream path)', () => {
  assert.equal(canInflateInPlace(), true, 'zlib internals changed: see inflate-reader.ts');
});

test('a .gz made by gzip reads back whole, whatever the size of the memory it fills', async () => {
  const gz = gzipped(folder(), 'image.img', content);
  for (const size of [4096, 65_537, MiB, 4 * MiB, 32 * MiB]) {
    const out = await readAll(gz, { mode: 'gzip' }, size);
    assert.equal(out.length, content.length, `filling ${size} bytes at a time`);
    assert.ok(out.equals(content), `filling ${size} bytes at a time`);
  }
});

test('counts the compressed bytes it reads, once each', async () => {
  const gz = gzipped(folder(), 'counted.img', content);
  let input = 0;
  await readAll(gz, { mode: 'gzip', onInput: (n) => (input += n) }, MiB);
  assert.equal(input, fs.statSync(gz).size);
});

test('concatenated gzip members are one image, as gunzip reads them; zeros after the end are ignored', async () => {
  const dir = folder();
  const a = fs.readFileSync(gzipped(dir, 'a.img', content.subarray(0, 2 * MiB)));
  const b = fs.readFileSync(gzipped(dir, 'b.img', content.subarray(2 * MiB)));
  const joined = path.join(dir, 'joined.img.gz');
  fs.writeFileSync(joined, Buffer.concat([a, b, Buffer.alloc(1000)]));
  const out = await readAll(joined, { mode: 'gzip' }, MiB);
  assert.ok(out.equals(content));
  assert.ok(out.equals(execFileSync('gunzip', ['-c', joined], { maxBuffer: 64 * MiB })), 'the same as gunzip');
});

test('a truncated .gz says it ends early; a damaged one says what zlib found', async () => {
  const dir = folder();
  const good = fs.readFileSync(gzipped(dir, 'good.img', content));
  const cut = path.join(dir, 'cut.img.gz');
  fs.writeFileSync(cut, good.subarray(0, Math.floor(good.length * 0.7)));
  assert.match((await failure(cut, { mode: 'gzip' })).message, /unexpected end of file/);
  const bad = Buffer.from(good);
  for (let i = 1000; i < 1064; i++) bad[i] = (bad[i] as number) ^ 0x5a;
  const damaged = path.join(dir, 'damaged.img.gz');
  fs.writeFileSync(damaged, bad);
  const err = await failure(damaged, { mode: 'gzip' });
  assert.match(err.message, /invalid|incorrect|unexpected/, err.message);
});

test('a zip entry made by zip inflates from its offset, and its size and CRC-32 are checked', async () => {
  const dir = folder();
  fs.writeFileSync(path.join(dir, 'disk.img'), content);
  const zip = path.join(dir, 'disk.zip');
  execFileSync('zip', ['-q', '-j', zip, path.join(dir, 'disk.img')]);
  const entry = await findZipImage(zip);
  assert.equal(entry.method, 8, 'zip deflated the entry');
  const opts: InflateReaderOptions = { mode: 'raw', start: entry.dataOffset, length: entry.compressedSize, expect: { size: entry.uncompressedSize, crc32: entry.crc32 } };
  assert.ok((await readAll(zip, opts, MiB)).equals(content));
  const wrongCrc = await failure(zip, { ...opts, expect: { size: entry.uncompressedSize, crc32: (entry.crc32 ^ 1) >>> 0 } });
  assert.match(wrongCrc.message, /CRC-32/);
  const wrongSize = await failure(zip, { ...opts, expect: { size: entry.uncompressedSize + 1, crc32: entry.crc32 } });
  assert.match(wrongSize.message, /expected \d+ bytes, got \d+/);
  // The entry's data cut short inside the archive: zlib runs out of input mid-stream.
  const cut = await failure(zip, { ...opts, length: Math.floor(entry.compressedSize / 2) });
  assert.match(cut.message, /unexpected end of file/);
});

test('what it decodes equals what zlib\'s own stream decodes', async () => {
  const gz = gzipped(folder(), 'same.img', content);
  const viaStream = zlib.gunzipSync(fs.readFileSync(gz));
  assert.ok((await readAll(gz, { mode: 'gzip' }, 3 * MiB + 17)).equals(viaStream));
});
