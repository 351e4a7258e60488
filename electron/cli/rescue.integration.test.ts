import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ProgressEvent } from '../../shared/job-events';
import { createFaultyDevice, faultToolsAvailable } from '../engine/testing/faulty-device';
import { pseudoRandom } from '../engine/testing/image-fixtures';
import { withLoopDevice } from '../engine/testing/loop-device';
import { parseMapfile } from '../engine/formats/rescue-map';
import { collect, describe, guardLog, hasStackTrace, runCli, spawnCli } from './testing/run-cli';

/**
 * `imprint rescue` as a user runs it: exit 0 when all was rescued, 1 when
 * bytes are lost (the output and map kept, the map saying where), 2 when
 * refused; Ctrl-C stops it with the map saved, and the same command resumes.
 */
const MiB = 1 << 20;
const SIZE = 8 * MiB;
const CONTENT = pseudoRandom(SIZE, 'rescue cli');
const BAD = [{ offset: 2 * MiB + 8192, length: 4096 }, { offset: 5 * MiB, length: 512 }];
const tools = faultToolsAvailable();
const skip = tools.ok ? false : `faulty-device harness unavailable, missing: ${tools.missing.join(', ')}`;
if (skip) console.log(`# skipping rescue CLI fault tests: ${skip}`);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-rescue-cli-'));
}

function expected(): Buffer {
  const out = Buffer.from(CONTENT);
  for (const b of BAD) out.fill(0, b.offset, b.offset + b.length);
  return out;
}

test('a healthy drive: exit 0, the output equals the drive', async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, CONTENT);
    await withLoopDevice(SIZE, async ({ device }) => {
      const out = path.join(dir, 'out.img');
      const r = await runCli(['rescue', device, out]);
      assert.equal(r.code, 0, describe(r));
      assert.match(r.stdout, /Rescued .*\(8388608 bytes\).*100\.00%/);
      assert.ok(fs.readFileSync(out).equals(CONTENT));
      assert.match(fs.readFileSync(`${out}.map`, 'utf8'), /^0x00000000 {2}0x00800000 {2}\+$/m);
      assert.equal(guardLog(), '');
    }, { file });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('refused: an existing output with no mapfile exits 2 and is left alone', async () => {
  const dir = tempDir();
  try {
    const src = path.join(dir, 'src.img');
    const out = path.join(dir, 'out.img');
    fs.writeFileSync(src, CONTENT.subarray(0, MiB));
    fs.writeFileSync(out, 'keep me');
    const r = await runCli(['rescue', src, out, '--json']);
    assert.equal(r.code, 2, describe(r));
    assert.equal(r.error?.code, 'E_OUTPUT_EXISTS');
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep me');
    const bad = await runCli(['rescue', src, path.join(dir, 'x.img'), '--retries', 'many']);
    assert.equal(bad.code, 2, describe(bad));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('killed outright (SIGKILL), it leaves a valid map that claims only what the output holds, and resumes from it', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, CONTENT);
    await withLoopDevice(SIZE, async ({ device }) => {
      const out = path.join(dir, 'out.img');
      const map = `${out}.map`;
      const child = spawnCli(['rescue', device, out, '--max-read-rate', String(MiB)]);
      const exited = collect(child, false);
      // The map is first saved a couple of seconds in; wait for one that records progress, then kill.
      for (let i = 0; i < 600 && !/\+\s*$/m.test(readOr(map)); i++) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGKILL');
      await exited;
      const saved = parseMapfile(fs.readFileSync(map, 'utf8'));
      const done = saved.blocks.filter((b) => b.status === '+');
      assert.ok(done.length > 0, 'the map recorded progress before the kill');
      const partial = fs.readFileSync(out);
      for (const b of done) assert.ok(partial.subarray(b.pos, b.pos + b.size).equals(CONTENT.subarray(b.pos, b.pos + b.size)), `map says ${b.pos}+${b.size} is rescued`);
      const r = await runCli(['rescue', device, out]);
      assert.equal(r.code, 0, describe(r));
      assert.ok(fs.readFileSync(out).equals(CONTENT));
    }, { file });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

test('a failing drive: exit 1, bytes lost and where, JSON details; Ctrl-C then the same command resumes', { skip, timeout: 120_000 }, async () => {
  const dir = tempDir();
  const d = await createFaultyDevice({ size: SIZE, readErrors: BAD, initialContent: CONTENT });
  try {
    const out = path.join(dir, 'rescued.img');
    const map = path.join(dir, 'state.map');
    // Interrupted: SIGINT once copying has rescued something (slowed down so that it lands mid-way).
    const child = spawnCli(['rescue', d.device, out, '--map', map, '--max-read-rate', String(2 * MiB), '--json']);
    let sent = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!sent && line.includes('"type":"progress"') && ((JSON.parse(line) as ProgressEvent).rescue?.rescuedBytes ?? 0) > 0) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    const first = await collect(child, true);
    assert.equal(first.code, 1, describe(first));
    assert.equal(first.finished?.error?.code, 'E_CANCELLED');
    assert.equal(first.finished?.details?.cancelled, true);
    assert.ok(fs.existsSync(map), 'the map is saved on Ctrl-C');

    const r = await runCli(['rescue', d.device, out, '--map', map, '--json']);
    assert.equal(r.code, 1, describe(r));
    assert.ok(!hasStackTrace(r.stderr), r.stderr);
    const details = r.finished?.details as { rescuedBytes: number; lostBytes: number; badAreas: unknown; mapfile: string };
    assert.equal(details.lostBytes, 4096 + 512);
    assert.equal(details.rescuedBytes, SIZE - 4096 - 512);
    assert.deepEqual(details.badAreas, BAD);
    assert.equal(details.mapfile, map);
    assert.equal(r.finished?.error?.code, 'E_BAD_SECTOR');
    assert.ok(r.events.some((e) => e.type === 'warning' && /Resuming/.test(e.message)));
    assert.ok(fs.readFileSync(out).equals(expected()));

    // For people: the lost areas by offset.
    const human = await runCli(['rescue', d.device, out, '--map', map, '--retries', '0']);
    assert.equal(human.code, 1, describe(human));
    assert.match(human.stdout, /Not rescued: .*\(4608 bytes\), 2 bad areas/);
    assert.match(human.stdout, new RegExp(`bad: offset ${BAD[0]?.offset} \\(0x${BAD[0]?.offset.toString(16)}\\), 4096 bytes`));
    assert.match(human.stdout, new RegExp(`bad: offset ${BAD[1]?.offset} .*512 bytes`));
  } finally {
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
