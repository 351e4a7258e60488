import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { announcePartitions, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli, startCli, type CliResult } from '../testing/run-cli';
import { assertIntact, ext4Drive, extFiles, generations, MiB } from './backup-folder-testing';

/**
 * A backup folder survives a backup killed (SIGKILL) at several points:
 * after each, every earlier generation is intact (`backups verify` reads
 * every piece each index names) and restores, and the next backup takes
 * over the dead process's lock. (Cancel, full disk and two processes:
 * backup-folder-crash.test.ts.)
 */

const t = tempDir('bfcrash');
const folder = path.join(t.dir, 'backups');
let small: LoopDevice | null = null;
let large: LoopDevice | null = null;
let smallFiles = new Map<string, string>();
let target: LoopDevice | null = null;


before(async () => {
  small = await ext4Drive(t.dir, 'small.img', 32 * MiB, 3 * MiB);
  large = await ext4Drive(t.dir, 'large.img', 48 * MiB, 16 * MiB);
  target = await createLoopDevice(32 * MiB, { file: path.join(t.dir, 'target.img') });
  smallFiles = await extFiles(`${small.device}p1`, t.dir);
  const first = await runCli(['backup', small.device, '--into', folder, '--yes', '--json']);
  assert.equal(first.code, 0, first.stderr);
});

after(async () => {
  for (const d of [small, large, target]) await removeLoopDevice(d);
  t.remove();
});

test('SIGKILL at several points of a backup leaves the earlier generation intact and restorable; the next backup takes over', async () => {
  // How long an uninterrupted backup of the large drive takes here, into a scratch folder: the kills are spread over it.
  const t0 = Date.now();
  const probe = await runCli(['backup', (large as LoopDevice).device, '--into', path.join(t.dir, 'probe'), '--yes', '--json']);
  assert.equal(probe.code, 0, probe.stderr);
  const duration = Date.now() - t0;
  fs.rmSync(path.join(t.dir, 'probe'), { recursive: true });
  const before = await generations(folder);
  let killedMidway = 0;
  let copy = '';
  // Each run goes into a fresh copy of the folder (one generation of the small drive), so each has all 16 MiB to store.
  for (const [i, when] of (['tmp', 0.4, 0.8] as const).entries()) {
    copy = path.join(t.dir, `killed-${i}`);
    fs.cpSync(folder, copy, { recursive: true });
    const { child, done } = startCli(['backup', (large as LoopDevice).device, '--into', copy, '--yes', '--json']);
    if (when === 'tmp') {
      // The first piece is being written: the run is inside the piece store.
      for (let n = 0; n < 2000 && fs.readdirSync(path.join(copy, 'tmp')).length === 0; n++) await new Promise((r) => setTimeout(r, 5));
    } else await new Promise((r) => setTimeout(r, Math.round(duration * (when as number))));
    child.kill('SIGKILL');
    const run: CliResult = await done;
    if (run.code === null) killedMidway++;
    const now = await generations(copy);
    assert.deepEqual(now.slice(0, before.length), before, 'earlier generations are all still listed');
    assert.ok(now.length <= before.length + 1);
    await assertIntact(copy);
  }
  assert.ok(killedMidway >= 2, `at least two runs were killed before they finished (${killedMidway})`);
  // The last killed run left a lock naming a dead process, and maybe debris in tmp/: the next backup goes ahead.
  const next = await runCli(['backup', (large as LoopDevice).device, '--into', copy, '--yes', '--json']);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(fs.readdirSync(path.join(copy, 'tmp')), []);
  assert.equal(fs.existsSync(path.join(copy, 'lock')), false);
  const restore = await runCli(['restore', `${copy}#1`, (target as LoopDevice).device, '--yes', '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  const [p1] = await announcePartitions((target as LoopDevice).device, 1);
  assert.deepEqual(await extFiles(p1 as string, t.dir), smallFiles);
  await runTool('partx', ['-d', (target as LoopDevice).device], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
  // The target now holds the same data as the small drive: another drive, the same pieces, nothing new stored.
  const twin = await runCli(['backup', (target as LoopDevice).device, '--into', copy, '--yes', '--json']);
  assert.equal(twin.code, 0, twin.stderr);
  const d = twin.finished?.details as { newPieces?: number; pieces?: number } | undefined;
  assert.equal(d?.newPieces, 0, 'identical data on another drive is stored once');
  assert.ok((d?.pieces ?? 0) > 0);
  const wrong = await runCli(['restore', `${copy}#99`, (target as LoopDevice).device, '--yes', '--json']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.error?.message ?? '', /there is no #99/);
  const notFolder = await runCli(['backups', 'list', t.dir, '--json']);
  assert.equal(notFolder.error?.code, 'E_NOT_A_BACKUP');
});

