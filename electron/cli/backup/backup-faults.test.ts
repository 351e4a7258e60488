import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { announcePartitions, makeExt4Drive, noise, sameBytes, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli, collect, spawnCli, type CliResult } from '../testing/run-cli';
import { detailsOf } from '../../../shared/job-events';

/**
 * Refusals and faults of backup and restore, on real loop devices and a real
 * small tmpfs: nothing that looks like a finished backup is ever left behind,
 * and no target is ever reported restored when it was not.
 */

const SIZE = 40 << 20;
const t = tempDir('backup-faults');
const drives: LoopDevice[] = [];
let ext4: LoopDevice;
let noisy: LoopDevice;
let target: LoopDevice;
let small: LoopDevice;
let good: string;
let goodRaw: string;

async function hashOf(file: string, length = Infinity): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20, end: length === Infinity ? undefined : length - 1 })) h.update(c as Buffer);
  return h.digest('hex');
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('imprint-partial'));
}

/** The first MiB of a device: where the partition table lives, written last by a restore. */
function head(device: string): Buffer {
  const fd = fs.openSync(device, 'r');
  try {
    const b = Buffer.alloc(1 << 20);
    fs.readSync(fd, b, 0, b.length, 0);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

function assertNotRestored(r: CliResult, code: number): void {
  assert.equal(r.code, code, r.stderr + r.stdout.slice(-1500));
  if (r.finished) {
    assert.equal(r.finished.ok, false);
    assert.ok(r.finished.targets.every((x) => x.status !== 'verified' && x.status !== 'written'), JSON.stringify(r.finished.targets));
  }
  assert.doesNotMatch(r.stdout, /restored and verified/);
}

before(async () => {
  ext4 = await makeExt4Drive(path.join(t.dir, 'ext4.img'), SIZE, path.join(t.dir, 'mnt'));
  drives.push(ext4);
  noisy = await createLoopDevice(SIZE, { file: path.join(t.dir, 'noisy.img') });
  drives.push(noisy);
  const fd = fs.openSync(noisy.device, 'w');
  fs.writeSync(fd, noise(SIZE, 99), 0, SIZE, 0);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  target = await createLoopDevice(SIZE, { file: path.join(t.dir, 'target.img') });
  drives.push(target);
  small = await createLoopDevice(16 << 20, { file: path.join(t.dir, 'small.img') });
  drives.push(small);
  good = path.join(t.dir, 'good.img.zst');
  goodRaw = path.join(t.dir, 'good.img');
  for (const [out, c] of [[good, 'zstd'], [goodRaw, 'none']]) {
    const r = await runCli(['backup', ext4.device, out as string, '--compress', c as string, '--json']);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  for (const d of drives) await removeLoopDevice(d);
  t.remove();
});

test('an existing destination is refused (exit 2) and left untouched; --force replaces it; the source is never written', async () => {
  const dir = path.join(t.dir, 'exists');
  fs.mkdirSync(dir);
  const out = path.join(dir, 'b.img.zst');
  fs.writeFileSync(out, 'precious');
  const past = new Date('2020-01-01T00:00:00Z');
  fs.utimesSync(out, past, past);
  const before = await hashOf(ext4.device);

  const r = await runCli(['backup', ext4.device, out, '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.error?.code, 'E_OUTPUT_EXISTS');
  assert.equal(fs.readFileSync(out, 'utf8'), 'precious');
  assert.equal(fs.statSync(out).mtimeMs, past.getTime());
  assert.deepEqual(fs.readdirSync(dir).sort(), ['b.img.zst']);

  // A sidecar alone is also an existing backup's description: refused too.
  const lone = path.join(dir, 'c.img.zst');
  fs.writeFileSync(`${lone}.json`, '{}');
  assert.equal((await runCli(['backup', ext4.device, lone, '--json'])).error?.code, 'E_OUTPUT_EXISTS');

  // Sector by sector: its SHA-256 is the drive's, which `before` is (a smart backup's is of its stored data).
  const forced = await runCli(['backup', ext4.device, out, '--force', '--sector-by-sector', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(fs.readFileSync(out).subarray(0, 8).toString(), 'precious');
  assert.equal(detailsOf(forced.finished ?? {}, 'backup')?.sha256, before);
  assert.equal(await hashOf(ext4.device), before, 'the source drive is unchanged');
});

/** A small tmpfs mounted for one test. */
async function withTmpfs(name: string, size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(t.dir, name);
  fs.mkdirSync(dir);
  await runTool('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'imprint-test', dir]);
  try {
    await fn(dir);
  } finally {
    await runTool('umount', [dir], SLOW_TOOL_MS);
  }
}

test('a destination without room for the worst case is refused up front (E_NO_SPACE_FOR_OUTPUT), leaving nothing', async () => {
  await withTmpfs('full', '8m', async (dir) => {
    const out = path.join(dir, 'b.img.zst');
    const r = await runCli(['backup', ext4.device, out, '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.error?.code, 'E_NO_SPACE_FOR_OUTPUT');
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

for (const compression of ['zstd', 'none']) {
  test(`running out of room mid-way (${compression}) is E_NO_SPACE, and the partial file is removed`, async () => {
    await withTmpfs(`enospc-${compression}`, '8m', async (dir) => {
      const out = path.join(dir, 'b.img');
      const r = await runCli(['backup', noisy.device, out, '--compress', compression, '--no-space-check', '--json']);
      assert.equal(r.code, 1, r.stderr + r.stdout.slice(-1000));
      assert.equal(r.finished?.ok, false);
      assert.equal(r.finished?.error?.code, 'E_NO_SPACE');
      assert.ok((r.finished?.targets[0]?.bytesWritten ?? 0) > 0, 'it did get under way');
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  });
}

test('Ctrl-C mid-way cancels: exit 1, no backup file, no partial file, no sidecar', async () => {
  const dir = path.join(t.dir, 'cancel');
  fs.mkdirSync(dir);
  const out = path.join(dir, 'b.img.xz');
  // xz of noise is slow: the job is certainly still running when the signal arrives.
  const child = spawnCli(['backup', noisy.device, out, '--compress', 'xz', '--json']);
  const done = collect(child, true);
  let signalled = false;
  child.stdout?.on('data', (d: Buffer) => {
    if (!signalled && /"phase":"writing","bytesDone":[1-9]/.test(d.toString())) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  const r = await done;
  assert.ok(signalled, 'progress was seen before the end');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.finished?.error?.code, 'E_CANCELLED');
  assert.equal(r.finished?.targets[0]?.status, 'cancelled');
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('partitions mounted read-write: refused without --yes when nobody can be asked; with --yes a warning, and the backup is made', async () => {
  const [part] = await announcePartitions(ext4.device, 1);
  const mnt = path.join(t.dir, 'mounted');
  fs.mkdirSync(mnt);
  await runTool('mount', [part as string, mnt]);
  try {
    const out = path.join(t.dir, 'mounted.img.zst');
    const refused = await runCli(['backup', ext4.device, out, '--json']);
    assert.equal(refused.code, 2);
    assert.equal(refused.error?.code, 'E_NOT_CONFIRMED');
    assert.match(refused.error?.message ?? '', /mounted read-write.*Unmount/s);
    assert.equal(fs.existsSync(out), false);

    const onSource = await runCli(['backup', ext4.device, path.join(mnt, 'self.img.zst'), '--yes', '--json']);
    assert.equal(onSource.code, 2);
    assert.equal(onSource.error?.code, 'E_OUTPUT_ON_SOURCE');
    const onPartition = await runCli(['backup', part as string, path.join(mnt, 'self.img.zst'), '--yes', '--json']);
    assert.equal(onPartition.error?.code, 'E_OUTPUT_ON_SOURCE', 'a partition is not backed up into itself either');
    assert.deepEqual(fs.readdirSync(mnt).filter((f) => f.startsWith('self')), []);

    const accepted = await runCli(['backup', ext4.device, out, '--yes', '--json']);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.ok(accepted.events.some((e) => e.type === 'warning' && /inconsistent/.test(e.message)));
    assert.ok(fs.existsSync(out));
  } finally {
    await runTool('umount', [mnt], SLOW_TOOL_MS);
  }
});

test('restore of a corrupted backup (bytes flipped mid-file): exit 1, nothing reported restored, no partition table written', async () => {
  for (const [name, source] of [['zstd', good], ['raw', goodRaw]] as const) {
    const bad = path.join(t.dir, `corrupt-${name}`);
    fs.copyFileSync(source, bad);
    fs.copyFileSync(`${source}.json`, `${bad}.json`);
    const fd = fs.openSync(bad, 'r+');
    const size = fs.fstatSync(fd).size;
    // For the sparse raw backup, flip bytes inside the ext4 data (a written region), not in a hole.
    const at = name === 'raw' ? 2 << 20 : Math.floor(size / 2);
    const b = Buffer.alloc(16);
    fs.readSync(fd, b, 0, 16, at);
    for (let i = 0; i < 16; i++) b[i] = (b[i] as number) ^ 0x5a;
    fs.writeSync(fd, b, 0, 16, at);
    fs.closeSync(fd);

    const r = await runCli(['restore', bad, target.device, '--yes', '--json']);
    assertNotRestored(r, 1);
    const code = r.finished?.error?.code ?? r.finished?.targets[0]?.error?.code;
    assert.ok(code === 'E_CORRUPT_SOURCE' || code === 'E_CHECKSUM_MISMATCH', `${name}: ${code}`);
    assert.ok(head(target.device).equals(Buffer.alloc(1 << 20)), `${name}: the target's first MiB was never written`);
  }
});

test('restore of a truncated backup: exit 1 with its sidecar; without any metadata it is not taken for a backup', async () => {
  const cut = path.join(t.dir, 'truncated.img.zst');
  fs.writeFileSync(cut, fs.readFileSync(good).subarray(0, Math.floor(fs.statSync(good).size * 0.6)));
  const noMeta = await runCli(['restore', cut, target.device, '--yes', '--json']);
  assertNotRestored(noMeta, 2);
  assert.equal(noMeta.error?.code, 'E_NOT_A_BACKUP');

  fs.copyFileSync(`${good}.json`, `${cut}.json`);
  const r = await runCli(['restore', cut, target.device, '--yes', '--json']);
  assertNotRestored(r, 1);
  assert.ok(head(target.device).equals(Buffer.alloc(1 << 20)), "the target's first MiB was never written");

  const rawCut = path.join(t.dir, 'truncated.img');
  fs.writeFileSync(rawCut, fs.readFileSync(goodRaw).subarray(0, 8 << 20));
  fs.copyFileSync(`${goodRaw}.json`, `${rawCut}.json`);
  const raw = await runCli(['restore', rawCut, target.device, '--yes', '--json']);
  assertNotRestored(raw, 1);
  assert.equal(raw.error?.code, 'E_CORRUPT_SOURCE');
});

test('a target smaller than the backed-up drive is refused (exit 2) and not written', async () => {
  const fd = fs.openSync(small.device, 'w');
  fs.writeSync(fd, noise(16 << 20, 5), 0, 16 << 20, 0);
  fs.closeSync(fd);
  const before = await hashOf(small.device);
  const r = await runCli(['restore', good, small.device, '--yes', '--json']);
  assertNotRestored(r, 2);
  assert.equal(r.error?.code, 'E_TARGET_TOO_SMALL');
  assert.equal(await hashOf(small.device), before);
});

test('clone: one drive onto two, each read back; the source itself or a part of it is refused as a target', async () => {
  const second = await createLoopDevice(SIZE, { file: path.join(t.dir, 'second.img') });
  drives.push(second);
  const r = await runCli(['clone', ext4.device, target.device, second.device, '--yes', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout.slice(-1500));
  assert.equal(r.events[0]?.type === 'job-started' && r.events[0].kind, 'clone');
  assert.deepEqual(r.finished?.targets.map((x) => x.status), ['verified', 'verified']);
  assert.ok(await sameBytes(ext4.device, target.device));
  assert.ok(await sameBytes(ext4.device, second.device));

  const self = await runCli(['clone', ext4.device, ext4.device, '--yes', '--json']);
  assert.equal(self.code, 2);
  assert.equal(self.error?.code, 'E_TARGET_HOLDS_SOURCE');
  const [part] = await announcePartitions(ext4.device, 1);
  const partOf = await runCli(['clone', ext4.device, part as string, '--yes', '--json']);
  assert.equal(partOf.code, 2);
  assert.equal(partOf.error?.code, 'E_TARGET_HOLDS_SOURCE');
});

test('restore refuses a file that is not an Imprint backup (exit 2)', async () => {
  const plain = path.join(t.dir, 'plain.img');
  fs.writeFileSync(plain, Buffer.alloc(1 << 20, 1));
  const r = await runCli(['restore', plain, target.device, '--yes', '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.error?.code, 'E_NOT_A_BACKUP');
  assert.equal(leftovers(t.dir).length, 0);
});

test('bad arguments are refused (exit 2) before anything is read or written', async () => {
  const dir = path.join(t.dir, 'args');
  fs.mkdirSync(dir);
  const out = path.join(dir, 'b.img');
  const cases: [string[], string][] = [
    [['backup', ext4.device, out, '--compress', 'lz4'], 'E_BAD_ARGUMENTS'],
    [['backup', ext4.device, out, '--level', '99'], 'E_BAD_ARGUMENTS'],
    [['backup', ext4.device, out, '--compress', 'none', '--level', '3'], 'E_BAD_ARGUMENTS'],
    [['backup', good, out], 'E_BAD_ARGUMENTS'],
    [['backup', '/dev/does-not-exist', out], 'E_SOURCE_NOT_FOUND'],
    [['backup', ext4.device, dir], 'E_BAD_ARGUMENTS'],
    [['backup', ext4.device, path.join(dir, 'no', 'such', 'folder', 'b.img')], 'E_TARGET_NOT_FOUND'],
    [['backup', ext4.device, target.device], 'E_TARGET_NOT_WRITABLE_KIND'],
    [['clone', good, target.device, '--yes'], 'E_BAD_ARGUMENTS'],
    [['restore', ext4.device, target.device, '--yes'], 'E_BAD_ARGUMENTS'],
  ];
  for (const [args, code] of cases) {
    const r = await runCli([...args, '--json']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
    assert.equal(r.error?.code, code, args.join(' '));
  }
  assert.deepEqual(fs.readdirSync(dir), []);
});
