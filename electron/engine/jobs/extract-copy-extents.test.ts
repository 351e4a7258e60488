import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { openByteSource } from '../formats/byte-source';
import type { FileExtent } from '../disks/filesystem-driver';
import { SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { tempDir } from '../testing/test-drives';
import { ExtentCopier } from './extract-copy';

/**
 * The extent copier (extract-copy.ts) against content whose every byte is
 * known, with no filesystem between: hand-made extents that cross frames,
 * run backwards through the volume, share a frame with an extent far from
 * them, skip holes and land on zeros, through seekable .zst files of frames
 * smaller than, equal to, and larger than the copier's step (300,000 bytes,
 * 2 MiB as older backups have, 4 MiB as Imprint writes now, 16 MiB). The
 * expected file is cut from the content the .zst files were made of.
 */

const MIB = 1 << 20;
const t = tempDir('extract-copy-extents');
/** 40 MiB of content: random, with 3 MiB of zeros at 20 MiB. */
const content = Buffer.concat([crypto.randomBytes(20 * MIB), Buffer.alloc(3 * MIB), crypto.randomBytes(17 * MIB)]);
const FRAME_SIZES = [300_000, 2 * MIB, 4 * MIB, 16 * MIB];
const zst = new Map<number, string>();

before(() => {
  for (const frameSize of FRAME_SIZES) {
    const file = path.join(t.dir, `content-${frameSize}.zst`);
    const fd = fs.openSync(file, 'w');
    const writer = new SeekableZstdWriter((bytes) => void fs.writeSync(fd, bytes), { level: 1, frameSize });
    for (let at = 0; at < content.length; at += 4 * MIB) writer.write(content.subarray(at, at + 4 * MIB));
    writer.finish();
    fs.closeSync(fd);
    zst.set(frameSize, file);
  }
});

after(() => t.remove());

/** Extents of a 25 MiB file laid out as a badly fragmented one would be, in file order. */
function layout(volumeStart: number): { size: number; extents: FileExtent[] } {
  const extents: FileExtent[] = [];
  let offset = 0;
  const put = (length: number, volumeOffset: number): void => {
    extents.push({ offset, length, volumeOffset: volumeOffset - volumeStart });
    offset += length;
  };
  put(3 * MIB + 5, 17 * MIB + 123); // crosses frames
  put(1000, MIB + 600); // far back, at the volume's start
  offset += MIB + 7; // a hole
  put(5 * MIB, 9 * MIB + 7); // backwards again, crossing frames
  put(300, 20 * MIB + 128); // right after the first extent's end: that frame again
  put(4 * MIB, 19 * MIB); // ends on the zeros (written as a hole)
  put(4096, 39 * MIB); // near the content's end
  put(6 * MIB + 11, 27 * MIB + 1); // backwards again
  return { size: offset + 2 * MIB, extents }; // the file ends in a hole
}

function expected(size: number, extents: FileExtent[], volumeStart: number): Buffer {
  const want = Buffer.alloc(size);
  for (const e of extents) content.copy(want, e.offset, volumeStart + e.volumeOffset, volumeStart + e.volumeOffset + e.length);
  return want;
}

for (const frameSize of FRAME_SIZES) {
  test(`extents out of order, across and sharing frames, copied byte for byte (frames of ${frameSize} bytes)`, async () => {
    const source = await openByteSource(zst.get(frameSize)!);
    try {
      const copier = ExtentCopier.for(source);
      assert.ok(copier, 'a seekable .zst gets a copier');
      // The "volume" starts 1 MiB + 512 into the content, as a partition would.
      const volumeStart = MIB + 512;
      const { size, extents } = layout(volumeStart);
      const want = expected(size, extents, volumeStart);
      // Twice through one copier: the second copy reuses its buffers.
      for (const round of [1, 2]) {
        const file = path.join(t.dir, `out-${frameSize}-${round}.bin`);
        const fd = fs.openSync(file, 'wx');
        const reached: number[] = [];
        // The ends of the writes, in the order the copier issues them (fs.write wrapped for the copy).
        const ends: number[] = [];
        // The module object itself (`import * as` gives read-only bindings to it), whose write the copier calls.
        const fsModule = (fs as unknown as { default: { write: unknown } }).default;
        const write = fsModule.write;
        fsModule.write = (...a: unknown[]) => {
          ends.push((a[4] as number) + (a[3] as number));
          return (write as (...b: unknown[]) => void)(...a);
        };
        try {
          await copier.copy(fd, size, extents, volumeStart, content.length - volumeStart, (n) => reached.push(n));
          fs.ftruncateSync(fd, size);
        } finally {
          fsModule.write = write;
          fs.closeSync(fd);
        }
        // A copy stopped early leaves a file shorter than it should be: the write that reaches furthest comes last.
        assert.equal(ends.at(-1), Math.max(...ends), 'the file\'s last bytes are written last');
        const got = fs.readFileSync(file);
        assert.equal(got.length, size);
        assert.ok(got.equals(want), `content (round ${round})`);
        assert.equal(reached.at(-1), extents.reduce((n, e) => n + e.length, 0), 'progress reaches the bytes of all extents');
        assert.ok(reached.every((n, i) => i === 0 || n >= reached[i - 1]!), 'progress never goes back');
        fs.rmSync(file);
      }
    } finally {
      await source.close();
    }
  });
}

test('the reader keeps a frame it comes back to, and a frame read once takes no new memory', async () => {
  const source = await openByteSource(zst.get(2 * MIB)!);
  try {
    const reader = source.seekable!.reader;
    // Counting the frames decoded: the private decode() wrapped (the public reads are what the test drives).
    const inner = reader as unknown as { decode: (...a: unknown[]) => Buffer; cache: Map<number, Buffer> };
    const decode = inner.decode.bind(reader);
    let decodes = 0;
    inner.decode = (...a: unknown[]) => {
      decodes++;
      return decode(...a);
    };
    const check = async (offset: number, length: number): Promise<void> => {
      const got = await source.read(offset, length);
      assert.ok(got.equals(content.subarray(offset, offset + length)), `bytes at ${offset}+${length}`);
    };
    // A scan: each frame read once, as the metadata on the way to a large file is.
    for (let frame = 0; frame < 10; frame++) await check(frame * 2 * MIB + 4096, 512);
    assert.equal(decodes, 10);
    assert.equal(inner.cache.size, 1, 'frames read once share one buffer');
    // A walk that goes back and forth between two frames (an inode table and a folder): each decoded once more, then kept.
    decodes = 0;
    for (let round = 0; round < 10; round++) {
      await check(12 * MIB + round * 1000, 700);
      await check(30 * MIB + round * 3000, 2000);
    }
    assert.ok(decodes <= 3, `${decodes} frames decoded for 20 reads of two frames`);
    // A read across frames, and one through readInto (the copier's path).
    await check(2 * MIB - 100, 4 * MIB + 200);
    const into = Buffer.alloc(3 * MIB);
    assert.equal(reader.readInto(5 * MIB + 17, into), into.length);
    assert.ok(into.equals(content.subarray(5 * MIB + 17, 8 * MIB + 17)));
  } finally {
    await source.close();
  }
});
