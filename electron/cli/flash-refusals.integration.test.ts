import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorCode } from '../../shared/error-codes';
import { MiB, OS_IMAGE_SIZE, fixtureDir, imageIn, osImage, pseudoRandom, sha256Of, type ImageForm } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, readDirect, withLoopDevice, withLoopDevices, type LoopDevice } from '../engine/testing/loop-device';
import { describe, guardLog, hasStackTrace, runCli, type CliResult } from './testing/run-cli';

/**
 * Every refusal of `imprint flash`: exit code 2, a clear message with the
 * error code, and not one byte written to any target (each target is read
 * back with O_DIRECT and compared with what it held before).
 */

const LOOP_SIZE = 40 * MiB;
const OLD = pseudoRandom(LOOP_SIZE, 'refusal target content');

function refused(r: CliResult, code: ErrorCode, mentions?: string): void {
  assert.equal(r.code, 2, describe(r));
  assert.equal(r.error?.code, code, describe(r));
  if (mentions) assert.ok(r.error.message.includes(mentions), `"${r.error.message}" does not name ${mentions}`);
  assert.ok(!hasStackTrace(r.stderr), `stack trace on stderr:\n${r.stderr}`);
  assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
}

function unchanged(loop: LoopDevice, before: Buffer = OLD): void {
  assert.equal(firstDeviceDifference(loop.device, before.subarray(0, loop.size)), -1, `${loop.device} was written`);
}

test('a target smaller than an image of known size is refused up front', async (t) => {
  await withLoopDevice(
    16 * MiB,
    async (small) => {
      for (const form of ['raw', 'xz', 'zst', 'zip'] as ImageForm[]) {
        await t.test(form, async () => {
          const r = await runCli(['flash', imageIn(form), small.device, '--yes', '--json']);
          refused(r, 'E_TARGET_TOO_SMALL', small.device);
          assert.match(r.error?.message ?? '', new RegExp(`${16 * MiB} bytes.*${OS_IMAGE_SIZE}`));
          assert.ok(!r.events.some((e) => e.type === 'job-started'), 'a job was started');
          unchanged(small);
        });
      }
    },
    { content: OLD.subarray(0, 16 * MiB) },
  );
});

test('a read-only drive is refused, and so is the whole job it is part of', async () => {
  await withLoopDevices(
    [
      { size: LOOP_SIZE, opts: { content: OLD } },
      { size: LOOP_SIZE, opts: { content: OLD } },
      { size: LOOP_SIZE, opts: { content: OLD, readOnly: true } },
    ],
    async ([a, b, ro]) => {
      const alone = await runCli(['flash', osImage(), (ro as LoopDevice).device, '--yes', '--json']);
      refused(alone, 'E_TARGET_READ_ONLY', (ro as LoopDevice).device);
      const together = await runCli(['flash', imageIn('zst'), (a as LoopDevice).device, (ro as LoopDevice).device, (b as LoopDevice).device, '--yes', '--json']);
      refused(together, 'E_TARGET_READ_ONLY', (ro as LoopDevice).device);
      for (const l of [a, b, ro]) unchanged(l as LoopDevice);
    },
  );
});

test('the same device named twice is refused, also through another device node', async () => {
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      const r = await runCli(['flash', osImage(), loop.device, loop.device, '--yes', '--json']);
      refused(r, 'E_TARGET_DUPLICATE', loop.device);
      // A second node with the same device number (what /dev/disk/by-id links lead to).
      const alias = path.join(fs.mkdtempSync(path.join(fixtureDir(), 'alias-')), 'same-disk');
      const { rdev } = fs.statSync(loop.device);
      execFileSync('mknod', [alias, 'b', String(Math.floor(rdev / 256) % 4096), String((rdev & 0xff) | ((rdev >> 12) & 0xfff00))]);
      const viaAlias = await runCli(['flash', osImage(), loop.device, alias, '--yes', '--json']);
      refused(viaAlias, 'E_TARGET_DUPLICATE');
      unchanged(loop);
    },
    { content: OLD },
  );
});

test('the image file itself, a folder, a missing /dev path: refused, nothing written', async (t) => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'kinds-'));
  const image = path.join(dir, 'os.img');
  fs.copyFileSync(osImage(), image);
  const before = sha256Of(image);
  await t.test('target is the image', async () => {
    refused(await runCli(['flash', image, image, '--yes', '--json']), 'E_TARGET_HOLDS_SOURCE', image);
    // The same file by another path.
    fs.linkSync(image, path.join(dir, 'hardlink.img'));
    refused(await runCli(['flash', image, path.join(dir, 'hardlink.img'), '--yes', '--json']), 'E_TARGET_HOLDS_SOURCE');
    assert.equal(sha256Of(image), before, 'the image was changed');
  });
  await t.test('target is a folder', async () => {
    refused(await runCli(['flash', image, dir, '--yes', '--json']), 'E_TARGET_NOT_WRITABLE_KIND', dir);
  });
  await t.test('target does not exist under /dev', async () => {
    refused(await runCli(['flash', image, '/dev/imprint-no-such-drive', '--yes', '--json']), 'E_TARGET_NOT_FOUND', '/dev/imprint-no-such-drive');
    assert.ok(!fs.existsSync('/dev/imprint-no-such-drive'), 'a file was created in /dev');
  });
  await t.test('target is a character device', async () => {
    refused(await runCli(['flash', image, '/dev/null', '--yes', '--json']), 'E_TARGET_NOT_WRITABLE_KIND', '/dev/null');
  });
});

/** The whole disk that holds `/`, found here independently of the engine (mountinfo and sysfs). */
function rootDisk(): string | null {
  const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const majMin = line?.split(' ')[2];
  if (!majMin || !fs.existsSync(`/sys/dev/block/${majMin}`)) return null;
  let sys = fs.realpathSync(`/sys/dev/block/${majMin}`);
  if (fs.existsSync(path.join(sys, 'partition'))) sys = path.dirname(sys);
  const dev = `/dev/${path.basename(sys)}`;
  return fs.existsSync(dev) && fs.statSync(dev).isBlockDevice() ? dev : null;
}

test('the system drive is refused before it is opened for writing', async (t) => {
  const disk = rootDisk();
  if (!disk) {
    const reason = '/ is not on a block device here (container overlay?): no system drive to refuse';
    t.diagnostic(reason);
    t.skip(reason);
    return;
  }
  // The guard preloaded into the CLI (run-cli.ts) would turn a write-open of this disk
  // into a logged EPERM; the engine must refuse before it ever tries.
  for (const args of [[disk], [disk, '--no-verify']]) {
    const r = await runCli(['flash', osImage(), ...args, '--yes', '--json']);
    refused(r, 'E_TARGET_SYSTEM', disk);
    assert.match(r.error?.message ?? '', /system drive/);
  }
  // Also when it hides among good targets.
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      const r = await runCli(['flash', osImage(), loop.device, disk, '--yes', '--json']);
      refused(r, 'E_TARGET_SYSTEM', disk);
      unchanged(loop);
    },
    { content: OLD },
  );
});

test('without --yes and without a terminal nothing is erased (E_NOT_CONFIRMED)', async () => {
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      const r = await runCli(['flash', osImage(), loop.device, '--json']);
      refused(r, 'E_NOT_CONFIRMED');
      assert.match(r.error?.message ?? '', /--yes/);
      unchanged(loop);
      const human = await runCli(['flash', osImage(), loop.device]);
      assert.equal(human.code, 2, describe(human));
      assert.match(human.stderr, /Not confirmed.*--yes/);
      unchanged(loop);
    },
    { content: OLD },
  );
});

test('a drive with a partition that cannot be unmounted is refused, naming the mountpoint', async (t) => {
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      execFileSync('mkfs.ext4', ['-q', '-F', loop.device]);
      const mnt = fs.mkdtempSync(path.join(fixtureDir(), 'mnt-'));
      execFileSync('mount', [loop.device, mnt]);
      // A process whose working folder is on the mount keeps it busy.
      const holder = spawn('sleep', ['60'], { cwd: mnt, stdio: 'ignore' });
      try {
        const before = readDirect(loop.device, 0, LOOP_SIZE);
        await t.test('busy: refused', async () => {
          const r = await runCli(['flash', osImage(), loop.device, '--yes', '--json']);
          refused(r, 'E_TARGET_MOUNTED', mnt);
          assert.ok(fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${mnt} `), 'the mount was removed');
          assert.equal(firstDeviceDifference(loop.device, before), -1, 'the device was written');
        });
        holder.kill();
        await new Promise((r) => holder.once('exit', r));
        await t.test('not busy: unmounted and written', async () => {
          const r = await runCli(['flash', osImage(), loop.device, '--yes', '--json']);
          assert.equal(r.code, 0, describe(r));
          assert.ok(!fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${mnt} `), 'still mounted');
          assert.equal(firstDeviceDifference(loop.device, osImage()), -1);
        });
      } finally {
        holder.kill();
        try {
          execFileSync('umount', [mnt], { stdio: 'ignore' });
        } catch {
          // Unmounted by the flash.
        }
      }
    },
  );
});

test('bad input: missing, empty or folder image, bad options: exit 2 with a message', async (t) => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'bad-input-'));
  const empty = path.join(dir, 'empty.img');
  fs.writeFileSync(empty, '');
  const out = path.join(dir, 'out.img');
  const cases: [string, string[], ErrorCode][] = [
    ['missing image', ['flash', path.join(dir, 'nope.img'), out], 'E_SOURCE_NOT_FOUND'],
    ['empty image', ['flash', empty, out], 'E_SOURCE_EMPTY'],
    ['image is a folder', ['flash', dir, out], 'E_SOURCE_IS_DIRECTORY'],
    ['--sha256 not hex', ['flash', osImage(), out, '--sha256', 'xyz'], 'E_BAD_ARGUMENTS'],
    ['no target', ['flash', osImage()], 'E_BAD_ARGUMENTS'],
    ['unknown option', ['flash', osImage(), out, '--frobnicate'], 'E_BAD_ARGUMENTS'],
    ['target folder does not exist', ['flash', osImage(), path.join(dir, 'no', 'out.img')], 'E_TARGET_NOT_FOUND'],
  ];
  for (const [name, args, code] of cases) {
    await t.test(name, async () => {
      refused(await runCli([...args, '--yes', '--json']), code);
      assert.ok(!fs.existsSync(out), 'a target file was created');
    });
  }
});
