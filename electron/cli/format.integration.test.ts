import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MiB, pseudoRandom } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice, type LoopDevice } from '../engine/testing/loop-device';
import { describe, guardLog, hasStackTrace, runCli, type CliResult } from './testing/run-cli';

/**
 * `imprint format`: a stick that had a hybrid ISO (iso9660 + GPT, backup
 * header at its end) flashed to it comes back with one MBR partition over
 * the whole drive holding the filesystem asked for, as blkid, sfdisk, wipefs
 * and fsck (not Imprint's own parsers) see it; and every refusal leaves the
 * drive's bytes as they were.
 */

const LOOP_SIZE = 64 * MiB;
let scratch: string | null = null;
function tmp(): string {
  if (scratch === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-format-'));
    scratch = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/** An ISO 9660 image made by genisoimage, with a GPT written over its system area as isohybrid does: primary at the start, backup at the end. */
function hybridIso(): string {
  const file = path.join(tmp(), 'hybrid.iso');
  if (fs.existsSync(file)) return file;
  const dir = fs.mkdtempSync(path.join(tmp(), 'iso-'));
  fs.writeFileSync(path.join(dir, 'payload.bin'), pseudoRandom(6 * MiB, 'format iso payload'));
  execFileSync('genisoimage', ['-quiet', '-V', 'OLDISO', '-o', file, dir]);
  fs.truncateSync(file, 8 * MiB);
  execFileSync('sfdisk', ['--quiet', '--label', 'gpt', file], { input: 'start=2048, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' });
  const sig = execFileSync('wipefs', ['-n', '-p', file], { encoding: 'utf8' });
  assert.match(sig, /iso9660/, 'the fixture has no iso9660 signature');
  assert.match(sig, /gpt/, 'the fixture has no GPT');
  return file;
}

/** What wipefs finds on a device: the signature types, each once (a FAT has several magic strings). */
function signatures(device: string): string[] {
  const out = execFileSync('wipefs', ['-n', '-p', device], { encoding: 'utf8' });
  return [...new Set(out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[3] ?? l))];
}

/** wipefs's view of a filesystem made by the same tool on a zeroed file of `size` bytes. */
function freshSignatures(type: 'vfat' | 'exfat', size: number): string[] {
  const file = path.join(fs.mkdtempSync(path.join(tmp(), 'fresh-')), 'fs.img');
  fs.writeFileSync(file, Buffer.alloc(0));
  fs.truncateSync(file, size);
  execFileSync(type === 'vfat' ? 'mkfs.vfat' : 'mkfs.exfat', type === 'vfat' ? ['-F', '32', file] : [file], { stdio: 'ignore' });
  try {
    return signatures(file);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

function blkid(device: string): Record<string, string> {
  const out = execFileSync('blkid', ['-p', '-o', 'export', device], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/\\(.)/g, '$1')]));
}

async function flashIso(loop: LoopDevice): Promise<void> {
  const r = await runCli(['flash', hybridIso(), loop.device, '--yes', '--json']);
  assert.equal(r.code, 0, describe(r));
  // The GPT's backup lies at the ISO's end; move it to the drive's end, where a stick flashed with an ISO of its own size has it.
  execFileSync('sfdisk', ['--quiet', '--relocate', 'gpt-bak-std', loop.device]);
  assert.ok(signatures(loop.device).includes('gpt'), `no GPT on ${loop.device} after flashing`);
}

function checkFormatted(loop: LoopDevice, type: 'vfat' | 'exfat', label: string, r: CliResult): void {
  assert.equal(r.code, 0, describe(r));
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
  const table = JSON.parse(execFileSync('sfdisk', ['--json', loop.device], { encoding: 'utf8' })).partitiontable as { label: string; partitions: { node: string; start: number; size: number; type: string }[] };
  assert.equal(table.label, 'dos');
  assert.equal(table.partitions.length, 1, JSON.stringify(table));
  const [p] = table.partitions as [{ node: string; start: number; size: number; type: string }];
  assert.equal(p.start, 2048);
  assert.equal((p.start + p.size) * 512, loop.size, 'the partition does not reach the drive\'s end');
  assert.equal(p.type, type === 'vfat' ? 'c' : '7');
  // Whole drive: only the new MBR; no iso9660, no GPT (primary or backup), no protective MBR.
  assert.deepEqual(signatures(loop.device), ['dos']);
  const part = `${loop.device}p1`;
  assert.ok(fs.statSync(part).isBlockDevice(), `${part} is missing`);
  const id = blkid(part);
  assert.equal(id.TYPE, type, JSON.stringify(id));
  assert.equal(id.LABEL, label, JSON.stringify(id));
  // Nothing but what the same mkfs leaves on a clean file (exFAT's boot sector also reads as 'dos' to libblkid).
  assert.deepEqual(signatures(part), freshSignatures(type, loop.size - MiB));
  const fsck = spawnSync(type === 'vfat' ? 'fsck.vfat' : 'fsck.exfat', ['-n', part], { encoding: 'utf8' });
  assert.equal(fsck.status, 0, `fsck: ${fsck.stdout}${fsck.stderr}`);
  const finished = r.finished;
  if (finished) {
    assert.equal(finished.ok, true);
    assert.equal(finished.targets[0]?.status, 'verified');
    assert.deepEqual(finished.details, { kind: 'format', filesystem: type === 'vfat' ? 'fat32' : 'exfat', label, partition: part });
  }
}

test('format after a flashed hybrid ISO: one FAT32 partition over the whole drive (the default at this size)', async () => {
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    await flashIso(loop);
    const r = await runCli(['format', loop.device, '--label', 'stick', '--yes', '--json']);
    checkFormatted(loop, 'vfat', 'STICK', r);
    assert.ok(r.events.some((e) => e.type === 'progress' && e.phase === 'writing'), 'no writing progress');
    assert.ok(r.events.some((e) => e.type === 'job-started' && e.kind === 'format'), 'no job-started of kind format');
  });
});

test('format --fs exfat with a mixed-case label; a mounted drive is unmounted and that is said', async () => {
  const mnt = fs.mkdtempSync(path.join(tmp(), 'mnt-'));
  const mounted = (): boolean => fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${mnt} `);
  try {
    await withLoopDevice(LOOP_SIZE, async (loop) => {
      await flashIso(loop);
      const r = await runCli(['format', loop.device, '--fs', 'exfat', '--label', 'My Stick', '--yes', '--json']);
      checkFormatted(loop, 'exfat', 'My Stick', r);
      execFileSync('mkfs.ext4', ['-q', '-F', loop.device]);
      execFileSync('mount', [loop.device, mnt]);
      const again = await runCli(['format', loop.device, '--yes']);
      assert.ok(again.stderr.includes(`Unmounted ${mnt} (${loop.device}) before writing.`), describe(again));
      assert.ok(!mounted(), 'still mounted');
      checkFormatted(loop, 'vfat', 'IMPRINT', again);
      assert.match(again.stdout, /formatted FAT32, labelled "IMPRINT"/);
    });
  } finally {
    if (mounted()) execFileSync('umount', [mnt]);
  }
});

/** A folder of stand-ins for every tool format runs: each logs its call and fails, so a refusal that reached one shows. */
function toolTrap(): { env: NodeJS.ProcessEnv; log: string } {
  const dir = fs.mkdtempSync(path.join(tmp(), 'trap-'));
  const log = path.join(dir, 'calls.log');
  for (const tool of ['wipefs', 'sfdisk', 'partx', 'mkfs.vfat', 'mkfs.exfat', 'blockdev', 'umount']) {
    fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\nexit 1\n`, { mode: 0o755 });
  }
  return { env: { PATH: `${dir}:${process.env.PATH ?? ''}` }, log };
}

function refused(r: CliResult, code: string, trapLog: string): void {
  assert.equal(r.code, 2, describe(r));
  assert.equal(r.error?.code, code, describe(r));
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
  assert.ok(!r.events.some((e) => e.type === 'job-started'), 'a job was started');
  assert.equal(fs.existsSync(trapLog) ? fs.readFileSync(trapLog, 'utf8') : '', '', 'a formatting tool was run');
  assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
}

test('refusals change nothing: system drive, read-only drive, a file, a bad label or --fs, no confirmation', async () => {
  const trap = toolTrap();
  const rootLine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const majMin = rootLine?.split(' ')[2];
  let sys = majMin && fs.existsSync(`/sys/dev/block/${majMin}`) ? fs.realpathSync(`/sys/dev/block/${majMin}`) : null;
  if (sys && fs.existsSync(path.join(sys, 'partition'))) sys = path.dirname(sys);
  const disk = sys ? `/dev/${path.basename(sys)}` : null;
  if (disk && fs.existsSync(disk)) {
    const r = await runCli(['format', disk, '--yes', '--json'], { env: trap.env });
    refused(r, 'E_TARGET_SYSTEM', trap.log);
    assert.match(r.error?.message ?? '', /system drive/);
  } else {
    console.log('# the system drive case did not run: / is not on a block device here');
  }
  const old = pseudoRandom(LOOP_SIZE, 'format refusal content');
  await withLoopDevice(LOOP_SIZE, async (ro) => {
    refused(await runCli(['format', ro.device, '--yes', '--json'], { env: trap.env }), 'E_TARGET_READ_ONLY', trap.log);
    assert.equal(firstDeviceDifference(ro.device, old), -1);
  }, { content: old, readOnly: true });
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const file = path.join(tmp(), 'not-a-drive.img');
    fs.writeFileSync(file, Buffer.alloc(16 * MiB));
    refused(await runCli(['format', file, '--yes', '--json'], { env: trap.env }), 'E_TARGET_NOT_WRITABLE_KIND', trap.log);
    for (const args of [['--label', 'WAY TOO LONG NAME'], ['--label', 'a.b'], ['--fs', 'exfat', '--label', 'sixteen chars!!!'], ['--fs', 'ntfs']]) {
      const r = await runCli(['format', loop.device, ...args, '--yes', '--json'], { env: trap.env });
      refused(r, 'E_BAD_ARGUMENTS', trap.log);
    }
    // No terminal and no --yes: nobody said yes.
    refused(await runCli(['format', loop.device, '--json'], { env: trap.env }), 'E_NOT_CONFIRMED', trap.log);
    assert.equal(firstDeviceDifference(loop.device, old), -1, `${loop.device} was written`);
  }, { content: old });
});
