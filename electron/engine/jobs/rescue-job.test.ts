// Rescue of real faulty block devices (nbdkit -> nbdfuse -> loop, see
// ../testing/faulty-device.ts), checked byte by byte against the device's
// true content, against ddrescuelog's reading of our map, and against GNU
// ddrescue run on the same device.
import { spawnSync } from 'child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';
import { pseudoRandom } from '../testing/image-fixtures';
import { createFaultyDevice, faultToolsAvailable, type FaultyDevice } from '../testing/faulty-device';
import { runTool } from '../testing/run-tool';
import { rescueToFile, type RescueSummary } from './rescue-job';
import { parseMapfile, type MapBlock } from '../formats/rescue-map';

const KiB = 1024;
const MiB = 1 << 20;
const SIZE = 16 * MiB;
// Bad ranges chosen to hit the algorithm's edges: the first sector, a range
// inside one 1 MiB read, one across two, a lone sector, a wide area needing
// long scraping, and the device's last 4 KiB.
const BAD = [
  { offset: 0, length: 512 },
  { offset: 3 * MiB + 4 * KiB, length: 1536 },
  { offset: 7 * MiB - 512, length: 8 * KiB },
  { offset: 12 * MiB + 50 * KiB, length: 512 },
  { offset: 14 * MiB, length: 256 * KiB },
  { offset: SIZE - 4 * KiB, length: 4 * KiB },
];
const LOST = BAD.reduce((n, b) => n + b.length, 0);
const CONTENT = pseudoRandom(SIZE, 'rescue-job.test');
const TIMEOUT = 120_000;

const tools = faultToolsAvailable();
const haveDdrescue = spawnSync('ddrescue', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = tools.ok ? false : `faulty-device harness unavailable, missing: ${tools.missing.join(', ')}`;
const skipPeer = skip || (haveDdrescue ? false : 'GNU ddrescue not installed (Debian package gddrescue)');
if (skip) console.log(`# skipping rescue fault tests: ${skip}`);
else if (skipPeer) console.log(`# skipping the ddrescue peer test: ${skipPeer}`);

/** What a perfect rescue produces: the content, with zeros where the device cannot be read. */
function expectedOutput(): Buffer {
  const out = Buffer.from(CONTENT);
  for (const b of BAD) out.fill(0, b.offset, b.offset + b.length);
  return out;
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

function assertOutput(file: string, expected: Buffer): void {
  const got = fs.readFileSync(file);
  assert.equal(got.length, expected.length, 'output size');
  assert.equal(firstDifference(got, expected), -1, 'first byte where the output differs from the expected content');
}

/** Sectors read from the device since boot, as the kernel counts them (failed reads included). */
function kernelSectorsRead(device: string): number {
  return Number(fs.readFileSync(`/sys/block/${path.basename(device)}/stat`, 'utf8').trim().split(/\s+/)[2]);
}

function readMap(file: string): MapBlock[] {
  return parseMapfile(fs.readFileSync(file, 'utf8')).blocks;
}

function rangesOf(blocks: MapBlock[], status: MapBlock['status']): { offset: number; length: number }[] {
  return blocks.filter((b) => b.status === status).map((b) => ({ offset: b.pos, length: b.size }));
}

function overlaps(a: { offset: number; length: number }, pos: number, len: number): boolean {
  return pos < a.offset + a.length && a.offset < pos + len;
}

/** Every successful read's bytes are written once: no two good reads overlap, and they add up to what was rescued. */
function assertEachByteReadWellOnce(summary: RescueSummary, alreadyRescued: number): void {
  const good = (summary.readTrace ?? []).filter(([, , g]) => g > 0).map(([p, , g]) => [p, g] as const).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < good.length; i++) {
    const [p0, g0] = good[i - 1] as readonly [number, number];
    assert.ok((good[i] as readonly [number, number])[0] >= p0 + g0, `bytes at ${p0} were read well twice`);
  }
  assert.equal(good.reduce((n, [, g]) => n + g, 0), summary.rescuedBytes - alreadyRescued);
}

/** The kernel saw exactly the reads the trace records: the trace is complete. */
function assertTraceMatchesKernel(summary: RescueSummary, sectorsBefore: number, sectorsAfter: number): void {
  const traced = (summary.readTrace ?? []).reduce((n, [, len]) => n + len, 0);
  assert.equal(sectorsAfter - sectorsBefore, traced / 512, 'sectors the kernel read vs sectors in the read trace');
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-rescue-'));
}

describe('rescue of a faulty drive', { timeout: TIMEOUT }, () => {
  let dev: FaultyDevice | null = null;
  let dir = '';
  before(async () => {
    if (skip) return;
    dir = tempDir();
    dev = await createFaultyDevice({ size: SIZE, readErrors: BAD, initialContent: CONTENT });
  });
  after(async () => {
    await dev?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rescues every readable byte, leaves zeros in the unreadable sectors and marks exactly those bad', { skip }, async () => {
    const d = dev as FaultyDevice;
    // The harness's backing store is the device's true content.
    assert.ok((await d.readBacking(0, SIZE)).equals(CONTENT));
    const out = path.join(dir, 'one.img');
    const before = kernelSectorsRead(d.device);
    const s = await rescueToFile(d.device, out, { retries: 1, traceReads: true });
    const after = kernelSectorsRead(d.device);
    assert.equal(s.ok, false);
    assert.equal(s.error?.code, 'E_BAD_SECTOR');
    assert.equal(s.lostBytes, LOST);
    assert.equal(s.rescuedBytes, SIZE - LOST);
    assert.equal(s.pendingBytes, 0);
    assert.deepEqual(s.badAreas, BAD);
    assertOutput(out, expectedOutput());
    const blocks = readMap(`${out}.map`);
    assert.deepEqual(rangesOf(blocks, '-'), BAD);
    assert.ok(blocks.every((b) => b.status === '+' || b.status === '-'), 'a finished rescue leaves only finished and bad-sector blocks');
    assertEachByteReadWellOnce(s, 0);
    assertTraceMatchesKernel(s, before, after);
    // ddrescue's rule: before retrying, each bad sector is tried at most twice (once in a large read, once alone).
    const retryReads = BAD.reduce((n, b) => n + b.length / 512, 0);
    const badTries = (s.readTrace ?? []).filter(([p, len]) => BAD.some((b) => overlaps(b, p, len))).length;
    assert.ok(badTries <= 2 * (LOST / 512) + retryReads, `${badTries} reads touched bad sectors`);
  });

  it('writes a map that ddrescuelog reads as we do', { skip: skipPeer }, async () => {
    const d = dev as FaultyDevice;
    const out = path.join(dir, 'log.img');
    await rescueToFile(d.device, out, { retries: 0 });
    const list = spawnSync('ddrescuelog', ['--list-blocks=-', '--block-size=512', `${out}.map`], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    const sectors = list.stdout.split('\n').filter(Boolean).map(Number);
    const injected = BAD.flatMap((b) => Array.from({ length: b.length / 512 }, (_, i) => b.offset / 512 + i));
    assert.deepEqual(sectors, injected);
    const rescued = spawnSync('ddrescuelog', ['--list-blocks=+', '--block-size=512', `${out}.map`], { encoding: 'utf8' });
    assert.equal(rescued.stdout.split('\n').filter(Boolean).length * 512, SIZE - LOST);
    // Not done while bad sectors remain.
    assert.notEqual(spawnSync('ddrescuelog', ['-D', `${out}.map`]).status, 0);
  });

  it('finds the same bad sectors and produces the same output as GNU ddrescue on the same device', { skip: skipPeer }, async () => {
    const d = dev as FaultyDevice;
    const ours = path.join(dir, 'ours.img');
    const theirs = path.join(dir, 'theirs.img');
    await rescueToFile(d.device, ours, { retries: 1 });
    // Not spawnSync: nbdkit writes a traceback per injected error to a pipe this process must keep draining.
    await runTool('ddrescue', ['-d', '-r1', '-q', d.device, theirs, `${theirs}.map`], 60_000);
    assert.deepEqual(rangesOf(readMap(`${theirs}.map`), '-'), rangesOf(readMap(`${ours}.map`), '-'));
    // ddrescue does not extend its output over a bad tail; what it did write must equal ours, the rest is zeros in ours.
    const a = fs.readFileSync(ours);
    const b = fs.readFileSync(theirs);
    assert.ok(b.length <= a.length);
    assert.equal(firstDifference(a.subarray(0, b.length), b), -1);
    assert.ok(a.subarray(b.length).every((x) => x === 0));
  });
});

for (const stopAt of ['copying', 'trimming'] as const) {
  it(`resumes a rescue interrupted while ${stopAt}, reading nothing it had rescued`, { skip, timeout: TIMEOUT }, async () => {
    const dir = tempDir();
    const d = await createFaultyDevice({ size: SIZE, readErrors: BAD, initialContent: CONTENT });
    try {
      const out = path.join(dir, 'resume.img');
      const controller = new AbortController();
      // Read slowly, so that the cancel (sent from a progress event) lands mid-way.
      const first = await rescueToFile(d.device, out, {
        maxReadRate: 4 * MiB,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type !== 'progress' || !e.rescue) return;
          if (stopAt === 'copying' ? e.rescue.rescuedBytes >= SIZE / 4 : e.phase === 'trimming') controller.abort();
        },
      });
      assert.equal(first.cancelled, true);
      assert.equal(first.error?.code, 'E_CANCELLED');
      const saved = parseMapfile(fs.readFileSync(`${out}.map`, 'utf8'));
      assert.equal(saved.currentStatus, stopAt === 'copying' ? '?' : '*');
      const done = rangesOf(saved.blocks, '+');
      const doneBytes = done.reduce((n, r) => n + r.length, 0);
      assert.equal(doneBytes, first.rescuedBytes);
      assert.ok(doneBytes > 0 && doneBytes < SIZE - LOST, `the cancel landed mid-way (${doneBytes} bytes rescued)`);
      // What the saved map calls finished is already in the output.
      const partial = fs.readFileSync(out);
      for (const r of done) assert.ok(partial.subarray(r.offset, r.offset + r.length).equals(CONTENT.subarray(r.offset, r.offset + r.length)), `rescued range at ${r.offset}`);

      const before = kernelSectorsRead(d.device);
      const second = await rescueToFile(d.device, out, { retries: 1, traceReads: true });
      const after = kernelSectorsRead(d.device);
      assertTraceMatchesKernel(second, before, after);
      const finalDone = rangesOf(readMap(`${out}.map`), '+');
      for (const [p, len, , probe] of second.readTrace ?? []) {
        // The one exception: a liveness probe after a long run of failures re-reads one good sector, and writes nothing.
        if (probe === 1) assert.ok(finalDone.some((r) => p >= r.offset && p + len <= r.offset + r.length), `probe at ${p} outside rescued data`);
        else assert.equal(done.find((r) => overlaps(r, p, len)), undefined, `the resumed rescue read ${p}+${len}, rescued before the interruption`);
      }
      const probes = (second.readTrace ?? []).filter(([, , , probe]) => probe === 1).length;
      assert.ok(probes <= 16, `${probes} liveness probes`);
      assertEachByteReadWellOnce(second, doneBytes);
      assert.equal(second.cancelled, false);
      assert.deepEqual(second.badAreas, BAD);
      assertOutput(out, expectedOutput());

      // Once more with no retries: the map says all is done, so nothing is read and nothing changes.
      const again = kernelSectorsRead(d.device);
      const third = await rescueToFile(d.device, out, { retries: 0 });
      assert.equal(kernelSectorsRead(d.device) - again, 0);
      assert.equal(third.rescuedBytes, SIZE - LOST);
      assertOutput(out, expectedOutput());
    } finally {
      await d.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

it('a drive that dies mid-rescue is reported gone, not as bad sectors, and the rescue resumes on it once back', { skip, timeout: TIMEOUT }, async () => {
  const dir = tempDir();
  const content = pseudoRandom(SIZE, 'gone');
  try {
    const out = path.join(dir, 'gone.img');
    const d = await createFaultyDevice({ size: SIZE, initialContent: content });
    let first: RescueSummary;
    try {
      let killed = false;
      first = await rescueToFile(d.device, out, {
        maxReadRate: 4 * MiB,
        onEvent: (e) => {
          if (!killed && e.type === 'progress' && (e.rescue?.rescuedBytes ?? 0) >= 2 * MiB) {
            killed = true;
            void d.kill();
          }
        },
      });
    } finally {
      await d.close();
    }
    assert.equal(first.error?.code, 'E_DEVICE_GONE', first.error?.message);
    assert.equal(first.ok, false);
    const saved = readMap(`${out}.map`);
    assert.deepEqual(rangesOf(saved, '-'), [], 'no area is called bad');
    assert.ok(first.rescuedBytes > 0 && first.rescuedBytes < SIZE);
    // The same drive back (here: a new device with the same content): the same map finishes the job.
    const back = await createFaultyDevice({ size: SIZE, initialContent: content });
    try {
      const again = await rescueToFile(back.device, out, {});
      assert.equal(again.ok, true, again.error?.message);
      assert.ok(fs.readFileSync(out).equals(content));
    } finally {
      await back.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
