import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { JobEvent, ProgressEvent } from '../../shared/job-events';
import { allocAligned } from '../engine/io/aligned-buffer';
import { MiB, fixtureDir, imageIn, osImage, pseudoRandom, smallImageIn, type ImageForm } from '../engine/testing/image-fixtures';
import { createLoopDevice, firstDeviceDifference, isLoopAttached, readDirect, removeLoopDevice, withLoopDevice, withLoopDevices, writeDirect, type LoopDevice } from '../engine/testing/loop-device';
import { collect, describe, guardLog, hasStackTrace, runCli, spawnCli, type CliResult } from './testing/run-cli';

/**
 * Flashes that go wrong, and how `imprint` says so: one target of several
 * failing, a drive changed after writing, Ctrl-C, broken compressed input.
 */

const smallImage = (): string => smallImageIn('raw');
const smallIn = smallImageIn;

function noCrash(r: CliResult): void {
  assert.ok(!hasStackTrace(r.stderr), `stack trace on stderr:\n${r.stderr}`);
  assert.notEqual(r.error?.code, 'E_INTERNAL', describe(r));
  assert.equal(guardLog(), '');
}

/** The image's first MiB (boot code and partition table) is written last: after a failure it is not there. */
function headAbsent(device: string, image: string): void {
  const head = fs.readFileSync(image).subarray(0, MiB);
  assert.ok(!readDirect(device, 0, MiB).equals(head), `${device} got the image head although the flash failed`);
}

test('several targets: one too small for an image of unknown size fails at its end, the others verify', async () => {
  const image = smallIn('bz2');
  await withLoopDevices(
    [16, 16, 8].map((m) => ({ size: m * MiB, opts: { content: pseudoRandom(m * MiB, `multi ${m}`) } })),
    async ([a, b, small]) => {
      const [da, db, ds] = [a, b, small].map((l) => (l as LoopDevice).device) as [string, string, string];
      const r = await runCli(['flash', image, da, ds, db, '--yes', '--json']);
      assert.equal(r.code, 1, describe(r));
      noCrash(r);
      const status = Object.fromEntries((r.finished?.targets ?? []).map((t) => [t.device, t]));
      assert.equal(status[da]?.status, 'verified', describe(r));
      assert.equal(status[db]?.status, 'verified', describe(r));
      assert.equal(status[ds]?.status, 'failed');
      assert.equal(status[ds]?.error?.code, 'E_TARGET_END');
      assert.equal(status[ds]?.error?.offset, 8 * MiB);
      assert.match(status[ds]?.error?.message ?? '', /too small/);
      const failedEvents = r.events.filter((e) => e.type === 'target-failed');
      assert.deepEqual(failedEvents.map((e) => e.type === 'target-failed' && e.device), [ds]);
      assert.equal(firstDeviceDifference(da, smallImage()), -1);
      assert.equal(firstDeviceDifference(db, smallImage()), -1);
      headAbsent(ds, smallImage());
    },
  );
});

test('verify reads the device itself: a change made after writing is found at its exact offset', async (t) => {
  const image = imageIn('zst');
  const raw = osImage();
  await withLoopDevice(40 * MiB, async (loop) => {
    const flashed = await runCli(['flash', image, loop.device, '--yes', '--no-verify', '--json']);
    assert.equal(flashed.code, 0, describe(flashed));
    assert.equal(flashed.finished?.targets[0]?.status, 'written');
    const clean = await runCli(['verify', image, loop.device, '--json']);
    assert.equal(clean.code, 0, describe(clean));
    assert.equal(clean.finished?.targets[0]?.status, 'verified');

    const verifyFindsAt = async (offset: number): Promise<void> => {
      for (const img of [image, raw]) {
        const r = await runCli(['verify', img, loop.device, '--json']);
        assert.equal(r.code, 1, describe(r));
        noCrash(r);
        assert.equal(r.error?.code, 'E_VERIFY_MISMATCH', describe(r));
        assert.equal(r.error?.offset, offset);
        assert.ok(r.error?.message.includes(String(offset)), r.error?.message);
        const human = await runCli(['verify', img, loop.device]);
        assert.equal(human.code, 1);
        assert.match(human.stdout, new RegExp(`first differing byte is at offset ${offset}\\b`));
      }
    };

    // 1. Overwrite two bytes in the middle of a 4 MiB chunk, through the device, with O_DIRECT.
    const x1 = 9 * MiB + 4097 + 3;
    const orig1 = readDirect(loop.device, x1, 2);
    writeDirect(loop.device, x1, Buffer.from(orig1.map((b) => b ^ 0xff)));
    await verifyFindsAt(x1);

    // 2. Change an earlier byte behind the device's back (in its backing file), after a
    // buffered read has put the device's pages in the page cache: verify must see the change.
    const x2 = 446 + 4; // inside the first partition entry
    fs.readFileSync(loop.device);
    const fd = fs.openSync(loop.backingFile, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    try {
      const block = readDirectFd(fd, 0);
      block[x2] = (block[x2] as number) ^ 0x01;
      fs.writeSync(fd, block, 0, block.length, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const cached = fs.readFileSync(loop.device).subarray(0, 4096);
    t.diagnostic(`the page cache of ${loop.device} ${cached[x2] === readDirect(loop.device, x2, 1)[0] ? 'already shows' : 'still hides'} the change`);
    await verifyFindsAt(x2);
  });
});

/** One aligned 4 KiB block at `offset` of an O_DIRECT descriptor. */
function readDirectFd(fd: number, offset: number): Buffer {
  const buf = allocAligned(4096);
  fs.readSync(fd, buf, 0, 4096, offset);
  return buf;
}

/**
 * A gzip image of about 2 GiB that costs little to make: a random 8 MiB first
 * member (so its head is recognisable) and 63 members of 32 MiB of zeros.
 * Long enough to flash that a cancel lands mid-way.
 */
function longImage(): { path: string; size: number; head: Buffer } {
  const p = path.join(fixtureDir(), 'long.img.gz');
  const head = pseudoRandom(8 * MiB, 'long image head');
  if (!fs.existsSync(p)) {
    const zeros = zlib.gzipSync(Buffer.alloc(32 * MiB), { level: 1 });
    fs.writeFileSync(p, Buffer.concat([zlib.gzipSync(head, { level: 1 }), ...new Array<Buffer>(63).fill(zeros)]));
  }
  return { path: p, size: 8 * MiB + 63 * 32 * MiB, head: head.subarray(0, MiB) };
}

test('Ctrl-C cancels promptly, closes the drive and says what state it is in', async (t) => {
  const image = longImage();
  const cases: { name: string; when: (e: ProgressEvent) => boolean }[] = [
    { name: 'at the first progress event', when: () => true },
    { name: 'in the middle of writing', when: (e) => e.phase === 'writing' && e.bytesDone > 0 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const loop = await createLoopDevice(image.size + 8 * MiB);
      try {
        const child = spawnCli(['flash', image.path, loop.device, '--yes', '--json']);
        let signalled = false;
        let buffered = '';
        child.stdout?.on('data', (d: Buffer) => {
          buffered += d.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) {
            const e = JSON.parse(line) as JobEvent;
            if (!signalled && e.type === 'progress' && c.when(e)) {
              signalled = true;
              child.kill('SIGINT');
              // Owner: this test. The issue asks for a cancel within a second; 3 s leaves room on a busy machine.
              setTimeout(() => child.kill('SIGKILL'), 3000).unref();
            }
          }
        });
        const r = await collect(child, true, 60_000);
        assert.ok(signalled, `the flash ended before a matching progress event\n${describe(r)}`);
        assert.equal(r.signal, null, `imprint did not exit within 3 s of Ctrl-C\n${describe(r)}`);
        assert.equal(r.code, 1, describe(r));
        noCrash(r);
        assert.match(r.stderr, /Cancelling/);
        assert.equal(r.finished?.ok, false);
        assert.equal(r.finished?.error?.code, 'E_CANCELLED');
        const target = r.finished?.targets[0];
        assert.equal(target?.status, 'cancelled', describe(r));
        assert.ok((target?.bytesWritten ?? 0) < image.size, 'everything was written: the cancel came too late to test');
        assert.ok(!readDirect(loop.device, 0, MiB).equals(image.head), 'the image head was written by a cancelled flash');
        // Nothing holds the device: an exclusive open succeeds, and the detach is immediate, not deferred.
        fs.closeSync(fs.openSync(loop.device, fs.constants.O_RDONLY | fs.constants.O_EXCL));
      } finally {
        await removeLoopDevice(loop);
      }
      assert.ok(!isLoopAttached(loop.device), `${loop.device} is still attached: something kept it open`);
    });
  }
});

test('truncated or corrupt compressed images fail with a clear message, never a crash', async (t) => {
  const forms: ImageForm[] = ['gz', 'xz', 'xz-blocks', 'zst', 'bz2', 'zip'];
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'broken-'));
  await withLoopDevice(
    16 * MiB,
    async (loop) => {
      for (const form of forms) {
        const good = fs.readFileSync(smallIn(form));
        const truncated = good.subarray(0, Math.floor(good.length * 0.6));
        const corrupt = Buffer.from(good);
        const mid = Math.floor(good.length / 2);
        for (let i = mid; i < mid + 64; i++) corrupt[i] = (corrupt[i] as number) ^ 0x5a;
        for (const [kind, bytes] of [['truncated', truncated], ['corrupt', corrupt]] as const) {
          await t.test(`${form} ${kind}`, async () => {
            const file = path.join(dir, `${kind}.${form}`);
            fs.writeFileSync(file, bytes);
            const r = await runCli(['flash', file, loop.device, '--yes', '--json']);
            assert.ok(r.code === 1 || r.code === 2, describe(r));
            noCrash(r);
            assert.ok(r.error, `no error reported\n${describe(r)}`);
            t.diagnostic(`${form} ${kind}: exit ${r.code} ${r.error.code}: ${r.error.message}`);
            assert.ok(['E_CORRUPT_SOURCE', 'E_SOURCE_CHANGED', 'E_UNSUPPORTED_FORMAT'].includes(r.error.code), describe(r));
            assert.ok(r.error.message.includes(file), `the message does not name the file: ${r.error.message}`);
            assert.match(r.error.message, /corrupt|truncated|damaged|incomplete/i);
            assert.doesNotMatch(r.error.message, /undefined|null|is not a function|properties of/, 'a programming error leaked into the message');
            headAbsent(loop.device, smallImage());
            const human = await runCli(['flash', file, loop.device, '--yes']);
            assert.equal(human.code, r.code);
            assert.ok(!hasStackTrace(human.stderr), human.stderr);
            assert.ok(human.stderr.includes(file) || human.stdout.includes(file), describe(human));
          });
        }
      }
    },
    { content: pseudoRandom(16 * MiB, 'broken input target') },
  );
});
