import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli, startCli } from '../testing/run-cli';
import { assertIntact, ext4Drive, generations, MiB } from './backup-folder-testing';

/**
 * A backup folder survives what interrupts a backup (SIGKILL: backup-folder-kill.test.ts):
 * a cancel, a full disk; after each, every earlier generation is
 * intact (`backups verify` reads every piece each index names) and restores.
 * Two processes on one folder: the second is refused, naming the first.
 * And a generation exported as a standalone file restores like the folder.
 */

const t = tempDir('bfcrash');
const folder = path.join(t.dir, 'backups');
let small: LoopDevice | null = null;
let large: LoopDevice | null = null;
let firstSha256 = '';
const fullMount = path.join(t.dir, 'full');
let fullMounted = false;


before(async () => {
  small = await ext4Drive(t.dir, 'small.img', 32 * MiB, 3 * MiB);
  large = await ext4Drive(t.dir, 'large.img', 48 * MiB, 16 * MiB);
  const first = await runCli(['backup', small.device, '--into', folder, '--yes', '--json']);
  assert.equal(first.code, 0, first.stderr);
  firstSha256 = first.finished?.digests?.sha256 ?? '';
});

after(async () => {
  if (fullMounted) await runTool('umount', [fullMount], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
  for (const d of [small, large]) await removeLoopDevice(d);
  t.remove();
});

test('export makes an ordinary smart backup file that the existing restore writes back exactly as the generation', async () => {
  const out = path.join(t.dir, 'gen1.img.zst');
  const exp = await runCli(['backups', 'export', `${folder}#1`, out, '--json']);
  assert.equal(exp.code, 0, exp.stderr);
  assert.equal((await runTool('zstd', ['-t', '-q', out], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, 'zstd reads it');
  assert.equal((JSON.parse(fs.readFileSync(`${out}.json`, 'utf8')) as { sha256: string }).sha256, firstSha256, 'its description records the generation\'s SHA-256');
  const fromFile = path.join(t.dir, 'from-file.img');
  const fromFolder = path.join(t.dir, 'from-folder.img');
  const a = await runCli(['restore', out, fromFile, '--yes', '--json']);
  assert.equal(a.code, 0, a.stderr);
  const b = await runCli(['restore', `${folder}#1`, fromFolder, '--yes', '--json']);
  assert.equal(b.code, 0, b.stderr);
  assert.equal((await runTool('cmp', [fromFile, fromFolder], { timeoutMs: SLOW_TOOL_MS, allowFail: true })).code, 0, 'both restores give the same drive image');
  const again = await runCli(['backups', 'export', `${folder}#1`, out]);
  assert.equal(again.code, 2, 'an existing file is not replaced without --force');
  for (const f of [out, `${out}.json`, fromFile, fromFolder]) fs.rmSync(f);
});

test('an export of a generation with a damaged piece fails naming it, and leaves no file behind', async () => {
  const pieces = fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).map(String).filter((n) => n.endsWith('.zst')).map((n) => path.join(folder, 'pieces', n));
  const largest = pieces.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0] as string;
  const saved = fs.readFileSync(largest);
  const bad = Buffer.from(saved);
  bad[bad.length >> 1] = (bad[bad.length >> 1] as number) ^ 0xff;
  fs.writeFileSync(largest, bad);
  const out = path.join(t.dir, 'damaged.img.zst');
  try {
    const exp = await runCli(['backups', 'export', `${folder}#1`, out, '--json']);
    assert.equal(exp.code, 1, exp.stderr);
    assert.equal(exp.error?.code, 'E_CORRUPT_SOURCE');
    assert.match(exp.error?.message ?? '', new RegExp(`piece ${path.basename(largest, '.zst')}.*nothing was exported`));
    assert.doesNotMatch(exp.error?.message ?? '', /partition table/);
    assert.deepEqual(fs.readdirSync(t.dir).filter((f) => f.startsWith('damaged.img.zst')), [], 'no file, sidecar or partial file is left');
  } finally {
    fs.writeFileSync(largest, saved);
  }
});

test('a cancel (SIGINT) adds no generation, and leaves no lock and nothing temporary', async () => {
  const before = await generations(folder);
  const { child, done } = startCli(['backup', (large as LoopDevice).device, '--into', path.join(t.dir, 'cancelled'), '--yes', '--json']);
  // Cancel once it is reading.
  await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => d.toString().includes('"progress"') && resolve()));
  child.kill('SIGINT');
  const run = await done;
  if (run.code === 0) {
    console.log('the backup finished before the cancel reached it; the cancel path was not exercised this run');
  } else {
    assert.equal(run.code, 1);
    assert.equal(run.finished?.error?.code, 'E_CANCELLED');
    assert.deepEqual(fs.readdirSync(path.join(t.dir, 'cancelled', 'generations')), []);
    assert.deepEqual(fs.readdirSync(path.join(t.dir, 'cancelled', 'tmp')), []);
    assert.equal(fs.existsSync(path.join(t.dir, 'cancelled', 'lock')), false);
  }
  assert.deepEqual(await generations(folder), before);
});

test('a full disk mid-backup: a clear error, earlier generations intact, no lock left', async () => {
  const fsFile = path.join(t.dir, 'small-fs.img');
  fs.writeFileSync(fsFile, '');
  await runTool('fallocate', ['-l', String(20 * MiB), fsFile], SLOW_TOOL_MS);
  await runTool('mkfs.ext4', ['-q', '-F', '-m', '0', fsFile], SLOW_TOOL_MS);
  fs.mkdirSync(fullMount);
  await runTool('mount', ['-o', 'loop', fsFile, fullMount], SLOW_TOOL_MS);
  fullMounted = true;
  const dir = path.join(fullMount, 'backups');
  const ok = await runCli(['backup', (small as LoopDevice).device, '--into', dir, '--yes', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const full = await runCli(['backup', (large as LoopDevice).device, '--into', dir, '--yes']);
  assert.equal(full.code, 1, full.stderr);
  assert.match(full.stderr, /is full\. No generation was added; the earlier ones are intact/);
  assert.equal((await generations(dir)).length, 1);
  await assertIntact(dir);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), []);
  assert.equal(fs.existsSync(path.join(dir, 'lock')), false);
  await runTool('umount', [fullMount], SLOW_TOOL_MS);
  fullMounted = false;
});

test('two processes on one folder: the second is refused, naming the holder', async () => {
  // A holder that is alive on this machine: this test process.
  const lock = path.join(folder, 'lock');
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: '2026-12-06T07:00:00.000Z', purpose: 'backup of /dev/sdz' }));
  const refused = await runCli(['backup', (small as LoopDevice).device, '--into', folder, '--yes', '--json']);
  assert.equal(refused.code, 2, refused.stderr + refused.stdout);
  assert.equal(refused.finished?.error?.code ?? refused.error?.code, 'E_FOLDER_BUSY');
  assert.match(refused.stderr + refused.stdout, new RegExp(`process ${process.pid} on .*backup of /dev/sdz`));
  fs.rmSync(lock);
  // Two real backups started together into a new folder: one holds the lock while it stores 16 MiB; the other is refused.
  const shared = path.join(t.dir, 'shared');
  const a = startCli(['backup', (large as LoopDevice).device, '--into', shared, '--yes', '--json']);
  const b = startCli(['backup', (large as LoopDevice).device, '--into', shared, '--yes', '--json']);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  const codes = [ra.code, rb.code].sort();
  if (codes[0] === 0 && codes[1] === 0) console.log('the two backups did not overlap on this run; only the live-holder case above was exercised');
  else {
    assert.deepEqual(codes, [0, 2], `${ra.stderr}\n${rb.stderr}`);
    const [winner, loser] = ra.code === 0 ? [a, rb] : [b, ra];
    assert.equal(loser.finished?.error?.code, 'E_FOLDER_BUSY');
    assert.match(loser.finished?.error?.message ?? '', new RegExp(`process ${winner.child.pid} on `));
  }
  assert.equal((await generations(shared)).length, codes[0] === codes[1] ? 2 : 1);
  await assertIntact(shared);
  // One more generation of the other drive, then prune keeps the newest of each drive.
  assert.equal((await runCli(['backup', (small as LoopDevice).device, '--into', shared, '--yes', '--json'])).code, 0);
  assert.equal((await runCli(['backup', (small as LoopDevice).device, '--into', shared, '--yes', '--json'])).code, 0);
  const pruned = await runCli(['backups', 'prune', shared, '--keep-last', '1', '--json']);
  assert.equal(pruned.code, 0, pruned.stderr);
  const report = JSON.parse(pruned.stdout) as { kept: string[]; removed: string[] };
  assert.equal(report.kept.length, 2, 'one generation of each drive');
  assert.deepEqual(await generations(shared), report.kept);
  await assertIntact(shared);
  await assertIntact(folder);
});
