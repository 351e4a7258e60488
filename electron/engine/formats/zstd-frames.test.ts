import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readZstdLayout } from './zstd-frames';
import { fixtureDir, pseudoRandom } from '../testing/image-fixtures';

let counter = 0;
function file(name: string, data: Buffer): string {
  const dir = path.join(fixtureDir(), 'zstd-frames');
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, `${counter++}-${name}`);
  fs.writeFileSync(p, data);
  return p;
}

/** `zstd` compressing a file (so it knows, and by default records, the content size). */
function zstdFile(data: Buffer, args: string[] = []): Buffer {
  const src = file('plain', data);
  return execFileSync('zstd', ['-q', '-c', ...args, src], { maxBuffer: 1 << 28 });
}

/** `zstd` compressing a pipe: it cannot know the size, so the frame does not state it. */
function zstdPipe(data: Buffer, args: string[] = []): Buffer {
  return execFileSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 28 });
}

function skippableFrame(magicNibble: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a50 + magicNibble, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Mixed content: random (raw blocks), zeros (RLE blocks), text (compressed blocks). */
function mixed(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  pseudoRandom(Math.floor(size / 3), seed).copy(out, 0);
  Buffer.from('zstd frame walker test line\n'.repeat(Math.ceil(size / 3 / 28))).copy(out, Math.floor((2 * size) / 3));
  return out;
}

test('content size of single frames from real zstd, across the frame header size classes', () => {
  // Sizes straddle the header's 1-, 2-, 4- and 8-byte content-size fields (2-byte field is offset by 256).
  const sizes = [1, 255, 256, 257, 65_535, 65_791, 65_792, 200_000, 3 * 131_072 + 17, 5_000_000];
  for (const size of sizes) {
    const data = mixed(size, `size-${size}`);
    for (const args of [[], ['--no-check'], ['-19'], ['-1', '--no-check']]) {
      const layout = readZstdLayout(file('f.zst', zstdFile(data, args)));
      assert.ok(layout, `size ${size} ${args.join(' ')}: layout`);
      assert.equal(layout.contentSize, size, `size ${size} ${args.join(' ')}`);
      assert.deepEqual(layout.skippable, []);
    }
  }
});

test('a frame written without its content size makes the total unknown', () => {
  const data = mixed(300_000, 'pipe');
  const piped = zstdPipe(data);
  const layout = readZstdLayout(file('pipe.zst', piped));
  assert.ok(layout, 'the walk still succeeds');
  assert.equal(layout.contentSize, null);
  // One frame without a size poisons the sum even when others state theirs.
  const both = readZstdLayout(file('both.zst', Buffer.concat([zstdFile(data), piped])));
  assert.equal(both?.contentSize, null);
  // --no-content-size on a file has the same effect.
  assert.equal(readZstdLayout(file('nocs.zst', zstdFile(data, ['--no-content-size'])))?.contentSize, null);
});

test('multi-frame files sum their frames, and zstd itself agrees on the data', () => {
  const parts = [mixed(1_000_000, 'a'), mixed(77, 'b'), mixed(131_072 * 2, 'c'), Buffer.alloc(2_000_000)];
  const joined = Buffer.concat(parts.map((p) => zstdFile(p)));
  const p = file('multi.zst', joined);
  const layout = readZstdLayout(p);
  const total = parts.reduce((n, x) => n + x.length, 0);
  assert.equal(layout?.contentSize, total);
  const decoded = execFileSync('zstd', ['-q', '-d', '-c', p], { maxBuffer: 1 << 28 });
  assert.equal(decoded.length, total);
  assert.ok(decoded.equals(Buffer.concat(parts)));
  // Multi-threaded zstd with a small job size writes one frame whose blocks come from several jobs.
  const mt = readZstdLayout(file('mt.zst', zstdFile(mixed(4_000_000, 'mt'), ['-T2', '--block-size=262144'])));
  assert.equal(mt?.contentSize, 4_000_000);
});

test('skippable frames anywhere are listed with their payload offset and length, and add no content', () => {
  const a = zstdFile(mixed(400_000, 'sa'));
  const b = zstdFile(mixed(123_456, 'sb'));
  const meta1 = skippableFrame(0xe, Buffer.from('{"imprint":"backup metadata"}'));
  const meta2 = skippableFrame(0x0, Buffer.alloc(0));
  const meta3 = skippableFrame(0xf, pseudoRandom(70_000, 'payload'));
  const whole = Buffer.concat([meta1, a, meta2, b, meta3]);
  const p = file('skip.zst', whole);
  const layout = readZstdLayout(p);
  assert.ok(layout);
  assert.equal(layout.contentSize, 523_456);
  assert.deepEqual(layout.skippable, [
    { magic: 0x184d2a5e, offset: 8, length: meta1.length - 8 },
    { magic: 0x184d2a50, offset: meta1.length + a.length + 8, length: 0 },
    { magic: 0x184d2a5f, offset: meta1.length + a.length + meta2.length + b.length + 8, length: 70_000 },
  ]);
  // The payload is where the layout says it is.
  const first = layout.skippable[0];
  assert.ok(first);
  assert.equal(whole.subarray(first.offset, first.offset + first.length).toString(), '{"imprint":"backup metadata"}');
  // zstd accepts the file as valid and skips the metadata, confirming the frames are well formed.
  const decoded = execFileSync('zstd', ['-q', '-d', '-c', p], { maxBuffer: 1 << 28 });
  assert.equal(decoded.length, 523_456);
});

test('truncated or foreign files give no layout rather than a wrong size', () => {
  const good = zstdFile(mixed(600_000, 'trunc'));
  const cuts = [4, 7, 12, Math.floor(good.length / 2), good.length - 5];
  for (const cut of cuts) {
    assert.equal(readZstdLayout(file('cut.zst', good.subarray(0, cut))), null, `cut at ${cut} of ${good.length}`);
  }
  assert.equal(readZstdLayout(file('gz', execFileSync('gzip', ['-c'], { input: Buffer.from('hello') }))), null);
  // A valid frame followed by garbage is not a zstd file Imprint can size.
  assert.equal(readZstdLayout(file('tail.zst', Buffer.concat([good, Buffer.from('garbage!')]))), null);
  // A skippable frame whose length runs past the end is a truncated file too.
  const header = skippableFrame(1, Buffer.alloc(0));
  header.writeUInt32LE(1000, 4);
  const overrun = readZstdLayout(file('overrun.zst', Buffer.concat([good, header, Buffer.alloc(10)])));
  assert.equal(overrun, null, `skippable frame past the end: ${JSON.stringify(overrun)}`);
});
