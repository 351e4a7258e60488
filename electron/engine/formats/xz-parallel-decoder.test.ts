// Real .xz files, written by the real `xz` binary, decoded by the parallel decoder.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeXzParallel, liveXzWorkerCount, xzReusedOutputCount, xzUncompressedSize } from './xz-parallel-decoder';
import { decodeIndex, readXzIndex } from './xz-index';
import { crc32 } from 'node:zlib';

let dir = '';
const file = (name: string) => path.join(dir, name);

/** ~20 MiB shaped like a disk image: random (incompressible), zeros, and repetitive text, interleaved. */
function imageLikeData(): Buffer {
  const text = Buffer.from('imprint writes images to drives and reads them back to verify\n'.repeat(40_000));
  const parts: Buffer[] = [];
  for (let i = 0; i < 4; i++) parts.push(randomBytes(2 * 1024 * 1024 + 12345 * i), Buffer.alloc(2 * 1024 * 1024 + 777), text);
  return Buffer.concat(parts);
}

function xz(args: string[], input: string, output: string): void {
  fs.writeFileSync(output, execFileSync('xz', [...args, '-c', input], { maxBuffer: 1 << 30 }));
}

/** Encodes an xz Index (format spec section 4), for tampering with one. */
function encodeIndex(records: Array<[number, number]>): Buffer {
  const bytes = [0x00];
  const vli = (n: number) => {
    for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes.push((n % 0x80) | 0x80);
    bytes.push(n);
  };
  vli(records.length);
  for (const [unpadded, uncompressed] of records) {
    vli(unpadded);
    vli(uncompressed);
  }
  while (bytes.length % 4) bytes.push(0);
  const body = Buffer.from(bytes);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
}

async function collect(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: unknown };
  }
  assert.fail('expected a rejection');
}

describe('decodeXzParallel', () => {
  let original: Buffer;
  let second: Buffer;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-xz-'));
    original = imageLikeData();
    fs.writeFileSync(file('image.img'), original);
    xz(['-T2', '--block-size=1MiB'], file('image.img'), file('multi-block.xz'));
    // xz 5.4 with one thread writes the whole input as one block.
    xz(['-T1'], file('image.img'), file('single-block.xz'));
    second = Buffer.concat([Buffer.from('second stream\n'.repeat(100_000)), randomBytes(300_000)]);
    fs.writeFileSync(file('second.img'), second);
    xz(['-T2', '--block-size=512KiB'], file('second.img'), file('second.xz'));
    // Two streams with stream padding between and after them, which the format allows.
    const pad = Buffer.alloc(8);
    fs.writeFileSync(file('concatenated.xz'), Buffer.concat([fs.readFileSync(file('multi-block.xz')), pad, fs.readFileSync(file('second.xz')), pad]));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('decodes a multi-block file byte for byte, on worker threads', async () => {
    let sawWorkers = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of decodeXzParallel(file('multi-block.xz'), { threads: 2 })) {
      sawWorkers = Math.max(sawWorkers, liveXzWorkerCount());
      chunks.push(chunk);
    }
    assert.equal(sawWorkers, 2, 'the parallel path ran');
    assert.ok(Buffer.concat(chunks).equals(original));
    assert.equal(liveXzWorkerCount(), 0);
  });

  it('transient: a consumer that copies each chunk gets the same bytes, and block memory is reused', async () => {
    const blocks = (await readXzIndex(file('multi-block.xz'))).blocks.length;
    const copies: Buffer[] = [];
    const before = xzReusedOutputCount();
    for await (const chunk of decodeXzParallel(file('multi-block.xz'), { threads: 2, transient: true })) copies.push(Buffer.from(chunk));
    assert.ok(Buffer.concat(copies).equals(original));
    // Fresh memory only for the first blocks in flight (threads + 1) and the one being handed out.
    const reused = xzReusedOutputCount() - before;
    assert.ok(blocks > 6 && reused >= blocks - 4, `${reused} of ${blocks} blocks reused memory`);
    // Without transient (a consumer that keeps chunks), nothing is reused: the first test's chunks stayed intact.
    const kept = xzReusedOutputCount();
    await collect(decodeXzParallel(file('multi-block.xz'), { threads: 2 }));
    assert.equal(xzReusedOutputCount(), kept);
  });

  it('decodes a single-block file on the stream path', async () => {
    assert.equal((await readXzIndex(file('single-block.xz'))).blocks.length, 1);
    assert.ok((await collect(decodeXzParallel(file('single-block.xz'), {}))).equals(original));
    assert.equal(liveXzWorkerCount(), 0);
  });

  it('decodes concatenated streams with stream padding', async () => {
    const index = await readXzIndex(file('concatenated.xz'));
    assert.equal(index.streams.length, 2);
    assert.deepEqual(index.streams.map((s) => s.paddingAfter), [8, 8]);
    assert.ok((await collect(decodeXzParallel(file('concatenated.xz'), { threads: 2 }))).equals(Buffer.concat([original, second])));
  });

  it('lists the same streams and blocks as `xz --list`', async () => {
    const robot = execFileSync('xz', ['--robot', '--list', '-vv', file('concatenated.xz')], { encoding: 'utf8' });
    const rows = (kind: string) => robot.split('\n').filter((l) => l.startsWith(`${kind}\t`)).map((l) => l.split('\t').map(Number));
    const index = await readXzIndex(file('concatenated.xz'));
    // block: stream, number in stream, number in file, compressed offset, uncompressed offset, total size, uncompressed size
    assert.deepEqual(
      index.blocks.map((b) => [b.compressedOffset, b.uncompressedOffset, b.totalSize, b.uncompressedSize]),
      rows('block').map((r) => [r[4], r[5], r[6], r[7]]),
    );
    // stream: number, blocks, compressed offset, uncompressed offset, compressed size, uncompressed size, ratio, check, padding
    assert.deepEqual(
      index.streams.map((s) => [s.blocks.length, s.offset, s.uncompressedOffset, s.size, s.uncompressedSize, s.paddingAfter]),
      rows('stream').map((r) => [r[2], r[3], r[4], r[5], r[6], r[9]]),
    );
  });

  it('reports the uncompressed size from the index', async () => {
    assert.equal(await xzUncompressedSize(file('multi-block.xz')), original.length);
    assert.equal(await xzUncompressedSize(file('concatenated.xz')), original.length + second.length);
    assert.equal(await xzUncompressedSize(file('image.img')), null);
  });

  it('rejects a truncated file with E_CORRUPT_SOURCE', async () => {
    const whole = fs.readFileSync(file('multi-block.xz'));
    fs.writeFileSync(file('truncated.xz'), whole.subarray(0, Math.floor(whole.length * 0.7)));
    const err = await rejection(collect(decodeXzParallel(file('truncated.xz'), { threads: 2 })));
    assert.equal(err.code, 'E_CORRUPT_SOURCE');
    assert.match(err.message, /^The \.xz file is truncated or corrupt: /);
    assert.equal(liveXzWorkerCount(), 0);
  });

  it('rejects a flipped byte in the middle with E_CORRUPT_SOURCE, naming the block', async () => {
    const damaged = Buffer.from(fs.readFileSync(file('multi-block.xz')));
    const middle = damaged.length >> 1;
    damaged[middle] = damaged[middle]! ^ 0x55;
    fs.writeFileSync(file('flipped.xz'), damaged);
    const err = await rejection(collect(decodeXzParallel(file('flipped.xz'), { threads: 2 })));
    assert.equal(err.code, 'E_CORRUPT_SOURCE');
    assert.match(err.message, /^The \.xz file is truncated or corrupt: block \d+ of \d+ /);
    assert.equal(liveXzWorkerCount(), 0);
  });

  it('rejects a block whose decoded size differs from its index record', async () => {
    const bytes = Buffer.from(fs.readFileSync(file('multi-block.xz')));
    const indexSize = (bytes.readUInt32LE(bytes.length - 8) + 1) * 4;
    const indexStart = bytes.length - 12 - indexSize;
    const records = decodeIndex(bytes.subarray(indexStart, indexStart + indexSize));
    records[3]![1] += 1; // same VLI length, so the Index keeps its size and the footer stays valid
    encodeIndex(records).copy(bytes, indexStart);
    fs.writeFileSync(file('wrong-size.xz'), bytes);
    assert.equal(await xzUncompressedSize(file('wrong-size.xz')), original.length + 1, 'the tampered Index itself is well-formed');
    const err = await rejection(collect(decodeXzParallel(file('wrong-size.xz'), { threads: 2 })));
    assert.equal(err.code, 'E_CORRUPT_SOURCE');
    assert.match(err.message, /block 4 of/);
  });

  it('rejects a file that is only zeros instead of decoding it to nothing', async () => {
    fs.writeFileSync(file('zeros.xz'), Buffer.alloc(4096));
    const err = await rejection(collect(decodeXzParallel(file('zeros.xz'), {})));
    assert.equal(err.code, 'E_CORRUPT_SOURCE');
  });

  it('shuts its workers down when the consumer breaks early', async () => {
    let chunks = 0;
    for await (const _chunk of decodeXzParallel(file('multi-block.xz'), { threads: 2 })) {
      assert.equal(liveXzWorkerCount(), 2);
      if (++chunks === 1) break;
    }
    assert.equal(liveXzWorkerCount(), 0);
  });

  it('stops promptly with E_CANCELLED when the signal fires', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const err = await rejection((async () => {
      for await (const _chunk of decodeXzParallel(file('multi-block.xz'), { threads: 2, signal: controller.signal })) {
        controller.abort();
      }
    })());
    assert.equal(err.code, 'E_CANCELLED');
    assert.equal(liveXzWorkerCount(), 0);
    // Well under the pool's 5 s close timeout: the workers left on their own, none was abandoned.
    assert.ok(Date.now() - started < 4000, 'cancellation took too long');
  });
});
