import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { fixtureDir } from '../../testing/image-fixtures';
import type { FileEntry } from '../filesystem-driver';
import { checkVolumeRange, VolumeRangeError, type Volume } from '../volume';
import { ntfsDriver } from './ntfs-driver';
import { makeNtfs, recordOffset, withNtfsMount } from './ntfs-test-volume';

/**
 * Random damage to the MFT of a real volume: whatever the bytes say, the
 * allocation map answers (a map or `whole`), and browsing fails only with
 * the reader's own errors, never a crash or a hang.
 */

const ITERATIONS = 150;

function memoryVolume(buf: Buffer): Volume {
  return {
    size: buf.length,
    async read(offset, length) {
      checkVolumeRange(offset, length, buf.length);
      return Buffer.from(buf.subarray(offset, offset + length));
    },
  };
}

/** Deterministic pseudo-random numbers (xorshift32), so a failure can be replayed from its iteration. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const expected = (err: unknown) => (err as { code?: string }).code === 'E_NTFS_FORMAT' || err instanceof VolumeRangeError;

let original = Buffer.alloc(0);
let mftStart = 0;

before(async () => {
  const image = path.join(fixtureDir(), 'corrupt-base.img');
  await makeNtfs(image, { sizeMiB: 16, clusterSize: 4096 });
  await withNtfsMount(image, false, async (dir) => {
    fs.mkdirSync(path.join(dir, 'd', 'e'), { recursive: true });
    for (let i = 0; i < 150; i++) fs.writeFileSync(path.join(dir, 'd', `f${i}`), Buffer.alloc(i * 100, i));
    fs.writeFileSync(path.join(dir, 'd', 'e', 'big'), Buffer.alloc(300_000, 7));
  });
  original = fs.readFileSync(image);
  mftStart = recordOffset(image, 0).offset;
  fs.rmSync(image);
});

test(`${ITERATIONS} randomly damaged MFTs: answers or reader errors only`, async () => {
  const outcomes = { used: 0, whole: 0, listed: 0, refused: 0 };
  for (let it = 0; it < ITERATIONS; it++) {
    const r = rng(it + 1);
    const buf = Buffer.from(original);
    // 1-20 byte changes in records in use: the system files (0-11) and the
    // test's files and folders (mkntfs leaves 16-63 reserved; ntfs-3g starts at 64).
    const changes = 1 + Math.floor(r() * 20);
    for (let i = 0; i < changes; i++) {
      const record = r() < 0.3 ? Math.floor(r() * 12) : 64 + Math.floor(r() * 160);
      buf[mftStart + record * 1024 + Math.floor(r() * 1024)] = Math.floor(r() * 256);
    }
    const volume = memoryVolume(buf);
    const map = await ntfsDriver.allocation!(volume);
    outcomes[map.kind === 'whole' ? 'whole' : 'used']++;
    try {
      const view = await ntfsDriver.open!(volume);
      // Bounded walk: damage can make a folder list one of its ancestors.
      const seen = new Set<number>();
      const walk = async (dir: FileEntry, depth: number): Promise<void> => {
        for (const e of await view.list(dir).catch((err) => (expected(err) ? [] : Promise.reject(err)))) {
          const rec = (e.ref as { record: number }).record;
          if (e.kind === 'directory' && depth < 8 && !seen.has(rec)) {
            seen.add(rec);
            await walk(e, depth + 1);
          } else if (e.kind === 'file') {
            await view.read(e, 0, Math.min(e.size, 1 << 20)).catch((err) => (expected(err) ? null : Promise.reject(err)));
          }
        }
      };
      await walk(view.root(), 0);
      outcomes.listed++;
    } catch (err) {
      assert.ok(expected(err), `iteration ${it}: ${(err as Error).stack}`);
      outcomes.refused++;
    }
  }
  console.log(`# outcomes: ${JSON.stringify(outcomes)}`);
  // The damage must reach the checks both ways, or the test proves nothing.
  assert.ok(outcomes.whole > 0 && outcomes.used > 0, JSON.stringify(outcomes));
});
