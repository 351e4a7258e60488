import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureDir, osImage, pseudoRandom } from '../testing/image-fixtures';
import { ImprintError } from '../errors';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder, SeekableZstdWriter, type EncodedFrame, type SeekableSummary } from './zstd-seekable-writer';
import { chunkCrc } from '../io/chunk-crc';
import { SeekableZstdReader } from './zstd-seekable-reader';
import { EMPTY_CONTENT_CHECKSUM, readSeekTable, seekTableFrameLength } from './zstd-seek-table';
import { ZstdFramePool } from './zstd-frame-pool';
import { xxhsumLow32 } from '../testing/xxhsum';

const MiB = 1 << 20;
let counter = 0;

function tempPath(name: string): string {
  const dir = path.join(fixtureDir(), 'zstd-seekable');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${counter++}-${name}`);
}

function writeFile(name: string, data: Buffer): string {
  const p = tempPath(name);
  fs.writeFileSync(p, data);
  return p;
}

/** Writes `input` as seekable zstd, fed in pieces of `piece` bytes (not a multiple of the frame size, so frames span calls). */
function seekable(input: Buffer, opts: { frameSize?: number; piece?: number; skippable?: Buffer } = {}): { bytes: Buffer; summary: SeekableSummary } {
  const parts: Buffer[] = [];
  const writer = new SeekableZstdWriter((b) => parts.push(Buffer.from(b)), { level: 3, frameSize: opts.frameSize });
  const piece = opts.piece ?? 777_777;
  for (let at = 0; at < input.length; at += piece) writer.write(input.subarray(at, at + piece));
  if (opts.skippable) writer.appendSkippable(opts.skippable);
  const summary = writer.finish();
  return { bytes: Buffer.concat(parts), summary };
}

function skippableFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a5b, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

function withReader<T>(file: string, fn: (r: SeekableZstdReader) => T): T {
  const fd = fs.openSync(file, 'r');
  try {
    return fn(SeekableZstdReader.open(fd, fs.fstatSync(fd).size, { file }));
  } finally {
    fs.closeSync(fd);
  }
}

function openError(file: string): ImprintError {
  try {
    withReader(file, () => undefined);
  } catch (err) {
    assert.ok(err instanceof ImprintError, String(err));
    return err;
  }
  assert.fail(`${file} opened`);
}

// The base OS-like image: a FAT partition, an ext4 one with files, and free space (zeros).
/** The writer's frame size: the cases below cut, cross and damage frames by it. */
const FRAME = SEEKABLE_FRAME_SIZE;

const image = fs.readFileSync(osImage());
const metadata = skippableFrame(Buffer.from('IMPRINT\0{"test":true}', 'latin1'));
const written = seekable(image, { skippable: metadata });
const seekableFile = writeFile('image.zst', written.bytes);

test('the zstd program decodes a seekable file to the input, and accepts it', () => {
  assert.ok(execFileSync('zstd', ['-dc', seekableFile], { maxBuffer: 1 << 27 }).equals(image));
  execFileSync('zstd', ['-tq', seekableFile]);
  const frames = Math.ceil(image.length / (FRAME));
  assert.equal(written.summary.frames, frames + 1, 'every data frame plus the metadata frame is listed');
  assert.equal(written.summary.contentBytes, image.length);
  assert.equal(written.summary.fileBytes, written.bytes.length);
  // zstd -lv: the frame counts and the content size, from the frame headers.
  const list = execFileSync('zstd', ['-lv', seekableFile]).toString();
  assert.match(list, new RegExp(`# Zstandard Frames: ${frames}\\b`));
  assert.match(list, /# Skippable Frames: 2\b/, 'the metadata frame and the seek table');
  assert.match(list, new RegExp(`Decompressed Size: .*\\(${image.length} B\\)`));
  assert.match(list, /Check: XXH64/);
});

test('the seek table lists each frame with its sizes and the XXH64 of its content', () => {
  const fd = fs.openSync(seekableFile, 'r');
  let table;
  try {
    table = readSeekTable(fd, written.bytes.length);
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(table);
  assert.equal(table.frameCount, written.summary.frames);
  assert.equal(table.contentSize, image.length);
  assert.equal(table.dataBytes + table.tableBytes, written.bytes.length);
  const frames = [...table.frames()];
  const last = frames[frames.length - 1];
  assert.ok(last);
  assert.equal(last.decompressedSize, 0, 'the metadata frame holds no content');
  assert.equal(last.compressedSize, metadata.length);
  assert.ok(written.bytes.subarray(last.compressedOffset, last.compressedOffset + metadata.length).equals(metadata));
  assert.equal(last.checksum, xxhsumLow32(Buffer.alloc(0)));
  assert.equal(EMPTY_CONTENT_CHECKSUM, xxhsumLow32(Buffer.alloc(0)));
  // Each data frame: decodes on its own (zstd -d of its bytes alone) to its slice, whose XXH64 the table holds.
  for (const f of frames.slice(0, 3).concat(frames.slice(-2, -1))) {
    const alone = written.bytes.subarray(f.compressedOffset, f.compressedOffset + f.compressedSize);
    const slice = image.subarray(f.decompressedOffset, f.decompressedOffset + f.decompressedSize);
    assert.ok(execFileSync('zstd', ['-dc'], { input: alone, maxBuffer: 1 << 24 }).equals(slice), `frame ${f.index} decodes alone`);
    assert.equal(f.checksum, xxhsumLow32(slice), `frame ${f.index} checksum`);
  }
  // Free space: all-zero frames are the same ready-made bytes.
  const zeroFrames = frames.filter((f) => f.decompressedSize === FRAME && image.subarray(f.decompressedOffset, f.decompressedOffset + f.decompressedSize).every((b) => b === 0));
  assert.ok(zeroFrames.length >= 2, `the image has free space (${zeroFrames.length} zero frames)`);
  const bytesOf = (f: (typeof frames)[number]): Buffer => written.bytes.subarray(f.compressedOffset, f.compressedOffset + f.compressedSize);
  for (const f of zeroFrames) assert.ok(bytesOf(f).equals(bytesOf(zeroFrames[0] as (typeof frames)[number])));
});

test('ranges read through the seek table equal the same slices of the input', () => {
  withReader(seekableFile, (r) => {
    assert.equal(r.size, image.length);
    const rnd = pseudoRandom(4 * 400, 'ranges');
    const cases: [number, number][] = [
      [0, 0],
      [0, 1],
      [FRAME - 1, 2], // across a frame boundary
      [FRAME - 10, 2 * FRAME + 20], // three frames
      [image.length - 5, 5],
      [image.length - 5, 100], // past the end: only what there is
      [image.length, 10],
      [0, image.length],
    ];
    for (let i = 0; i < 200; i++) {
      const offset = rnd.readUInt32LE(8 * i) % image.length;
      cases.push([offset, rnd.readUInt32LE(8 * i + 4) % (3 * MiB)]);
    }
    for (const [offset, length] of cases) {
      assert.ok(r.read(offset, length).equals(image.subarray(offset, offset + length)), `read(${offset}, ${length})`);
    }
  });
});

test('frames compressed by separate encoders (as workers would) and appended in order make the same file', () => {
  const parts: Buffer[] = [];
  const writer = new SeekableZstdWriter((b) => parts.push(Buffer.from(b)), { level: 3 });
  const encoders = [new SeekableFrameEncoder(3), new SeekableFrameEncoder(3)];
  for (let at = 0, i = 0; at < image.length; at += FRAME, i++) writer.appendFrame((encoders[i % 2] as SeekableFrameEncoder).encode(image.subarray(at, at + FRAME)));
  writer.appendSkippable(metadata);
  writer.finish();
  assert.ok(Buffer.concat(parts).equals(written.bytes));
});

for (const local of [false, true]) {
  test(`frames compressed by a pool of threads${local ? ', this one among them,' : ''} from shared memory make the same file, in order`, async () => {
    const memory = new SharedArrayBuffer(image.length);
    Buffer.from(memory).set(image);
    const pool = new ZstdFramePool(2, 3, memory, SEEKABLE_FRAME_SIZE, true, { local });
    try {
      const frames = [];
      for (let at = 0; at < image.length; at += FRAME) frames.push(pool.encode(at, Math.min(FRAME, image.length - at)));
      const parts: Buffer[] = [];
      const writer = new SeekableZstdWriter((b) => parts.push(Buffer.from(b)), { level: 3 });
      for (let i = 0; i < frames.length; i++) {
        const frame = await (frames[i] as Promise<EncodedFrame>);
        assert.equal(frame.contentCrc, chunkCrc(image.subarray(i * FRAME, (i + 1) * FRAME)), `frame ${i}: the CRC-32 of what it compressed`);
        writer.appendFrame(frame);
      }
      writer.appendSkippable(metadata);
      writer.finish();
      assert.ok(Buffer.concat(parts).equals(written.bytes));
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.encode(0, 10), /stopped/);
  });
}

test("the seek table frame's length is found from the end, to look at the frame before it", () => {
  const fd = fs.openSync(seekableFile, 'r');
  try {
    const length = seekTableFrameLength(fd, written.bytes.length);
    assert.equal(length, 8 + written.summary.frames * 12 + 9);
    const before = written.bytes.subarray(written.bytes.length - length - metadata.length, written.bytes.length - length);
    assert.ok(before.equals(metadata));
  } finally {
    fs.closeSync(fd);
  }
});

test('odd sizes: 1 MiB frames fed in 4 KiB pieces, and a last frame shorter than the rest', () => {
  const input = Buffer.concat([image.subarray(0, 5 * MiB), pseudoRandom(12345, 'tail')]);
  const { bytes, summary } = seekable(input, { frameSize: MiB, piece: 4096 });
  assert.equal(summary.frames, 6);
  const file = writeFile('odd.zst', bytes);
  assert.ok(execFileSync('zstd', ['-dc', file], { maxBuffer: 1 << 25 }).equals(input));
  withReader(file, (r) => {
    assert.equal(r.frames().next().value?.decompressedSize, MiB);
    assert.ok(r.read(5 * MiB - 3, 20000).equals(input.subarray(5 * MiB - 3, 5 * MiB - 3 + 20000)));
  });
  // Nothing written at all: a valid, empty seekable file.
  const empty = writeFile('empty.zst', seekable(Buffer.alloc(0)).bytes);
  assert.equal(execFileSync('zstd', ['-dc', empty]).length, 0);
  withReader(empty, (r) => assert.equal(r.read(0, 10).length, 0));
});

test('a plain zstd file, a file cut short, and a file that is not zstd are "not seekable"', () => {
  const plain = writeFile('plain.img', image.subarray(0, 3 * MiB));
  execFileSync('zstd', ['-q', '-3', plain]);
  const fd = fs.openSync(`${plain}.zst`, 'r');
  try {
    assert.equal(SeekableZstdReader.tryOpen(fd, fs.fstatSync(fd).size), null);
  } finally {
    fs.closeSync(fd);
  }
  const e = openError(`${plain}.zst`);
  assert.equal(e.code, 'E_UNSUPPORTED_FORMAT');
  assert.match(e.message, /not seekable/);
  for (const cut of [1, 9, Math.floor(written.bytes.length / 2)]) {
    const err = openError(writeFile('cut.zst', written.bytes.subarray(0, written.bytes.length - cut)));
    assert.equal(err.code, 'E_UNSUPPORTED_FORMAT');
    assert.match(err.message, /not seekable.*cut short/);
  }
  assert.match(openError(plain).message, /is not a zstd file/);
});

/** The written file with `edit` applied to a copy of its last `tableBytes` bytes (the seek table). */
function withTableEdit(edit: (table: Buffer) => void): string {
  const bytes = Buffer.from(written.bytes);
  const fd = fs.openSync(seekableFile, 'r');
  const tableBytes = readSeekTable(fd, bytes.length)?.tableBytes ?? 0;
  fs.closeSync(fd);
  edit(bytes.subarray(bytes.length - tableBytes));
  return writeFile('edited.zst', bytes);
}

test('a damaged seek table is refused with a clear error when opened', () => {
  const cases: [string, (t: Buffer) => void, RegExp][] = [
    ['a compressed size one more', (t) => t.writeUInt32LE(t.readUInt32LE(8) + 1, 8), /take \d+ bytes, more than the \d+ bytes before the table/],
    ['a compressed size one less', (t) => t.writeUInt32LE(t.readUInt32LE(8) - 1, 8), /take \d+ bytes, but \d+ bytes come before the table/],
    ['a compressed size far too large', (t) => t.writeUInt32LE(0xfffffff0, 8), /more than the \d+ bytes before the table/],
    ['a compressed size of zero', (t) => t.writeUInt32LE(0, 8), /0 compressed bytes/],
    ['a frame count one more', (t) => t.writeUInt32LE(t.readUInt32LE(t.length - 9) + 1, t.length - 9), /skippable-frame magic/],
    ['a frame count beyond the file', (t) => t.writeUInt32LE(0x7ffffff, t.length - 9), /more than a file of \d+ bytes can list/],
    ['a reserved descriptor bit', (t) => (t[t.length - 5] = 0x80 | 0x04), /reserved bits/],
    ['the skippable magic', (t) => (t[0] = (t[0] as number) ^ 1), /skippable-frame magic/],
    ['the frame size field', (t) => t.writeUInt32LE(t.readUInt32LE(4) + 12, 4), /frame size field/],
  ];
  for (const [what, edit, message] of cases) {
    const err = openError(withTableEdit(edit));
    assert.equal(err.code, 'E_CORRUPT_SOURCE', what);
    assert.match(err.message, /damaged seek table/, what);
    assert.match(err.message, message, what);
  }
});

test('sizes that add up but point at the wrong bytes, a wrong checksum, and damaged frame data fail the read of that frame only', () => {
  // Frame 0 one byte longer, frame 1 one byte shorter: the sum still matches the file.
  const shifted = withTableEdit((t) => {
    t.writeUInt32LE(t.readUInt32LE(8) + 1, 8);
    t.writeUInt32LE(t.readUInt32LE(20) - 1, 20);
  });
  withReader(shifted, (r) => {
    assert.throws(() => r.read(0, 10), (e: ImprintError) => e.code === 'E_CORRUPT_SOURCE' && /frame 0 .* but the seek table lists/.test(e.message));
    assert.ok(r.read(2 * FRAME + MiB, 100).equals(image.subarray(2 * FRAME + MiB, 2 * FRAME + MiB + 100)), 'frames the damage does not touch still read');
  });
  const badSum = withTableEdit((t) => (t[16 + 12] = (t[16 + 12] as number) ^ 0xff));
  withReader(badSum, (r) => assert.throws(() => r.read(FRAME, 10), (e: ImprintError) => e.code === 'E_CORRUPT_SOURCE' && /frame 1 .*checksum/.test(e.message)));
  const bytes = Buffer.from(written.bytes);
  const at = 3 * FRAME; // somewhere in frame 3's content: find its bytes
  withReader(seekableFile, (r) => {
    const f = [...r.frames()][3];
    assert.ok(f && f.decompressedOffset === at);
    const pos = f.compressedOffset + Math.floor(f.compressedSize / 2);
    bytes[pos] = (bytes[pos] as number) ^ 0x55;
  });
  withReader(writeFile('flipped.zst', bytes), (r) => {
    assert.throws(() => r.read(at, 10), (e: ImprintError) => e.code === 'E_CORRUPT_SOURCE' && /frame 3 /.test(e.message));
    assert.ok(r.read(0, 1000).equals(image.subarray(0, 1000)));
  });
});
