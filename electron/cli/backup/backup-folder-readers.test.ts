import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { announcePartitions, tempDir } from '../../engine/testing/test-drives';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { lockFolder } from '../../engine/formats/backup-folder/folder-lock';
import { describe, runCli, startCli, type CliResult } from '../testing/run-cli';
import { ext4Drive, extFiles, generations, MiB, randomFile, withMounted } from './backup-folder-testing';

/**
 * Readers and prune across processes, through the `imprint` command: a
 * restore of the generation a prune would delete, and a verify, are each
 * stopped (SIGSTOP) while they read; a prune started then is refused with
 * a message naming the reader, deletes nothing, and the reader, resumed,
 * completes correctly. A prune holding the folder refuses every reader
 * command, naming the prune.
 */

const t = tempDir('bfreaders');
const folder = path.join(t.dir, 'backups');
let drive: LoopDevice | null = null;
let target: LoopDevice | null = null;
let firstFiles = new Map<string, string>();

before(async () => {
  drive = await ext4Drive(t.dir, 'drive.img', 64 * MiB, 24 * MiB);
  target = await createLoopDevice(64 * MiB, { file: path.join(t.dir, 'target.img') });
  const part = `${drive.device}p1`;
  firstFiles = await extFiles(part, t.dir);
  const g1 = await runCli(['backup', drive.device, '--into', folder, '--yes', '--json']);
  assert.equal(g1.code, 0, g1.stderr);
  // Generation 2 lacks most of generation 1's files: pruning to one generation deletes their pieces.
  await withMounted(part, t.dir, (dir) => {
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.bin')) fs.rmSync(path.join(dir, f));
    randomFile(path.join(dir, 'new.bin'), 2 * MiB);
  });
  const g2 = await runCli(['backup', drive.device, '--into', folder, '--yes', '--json']);
  assert.equal(g2.code, 0, g2.stderr);
});

after(async () => {
  await removeLoopDevice(drive);
  await removeLoopDevice(target);
  t.remove();
});

/** True once `pid` is stopped (state T in /proc/PID/stat): a signal is delivered a moment after kill() returns. */
async function stopped(pid: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) T /.test(stat)) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

/**
 * Starts `args` and stops it (SIGSTOP) while it is registered as a reader of
 * the folder. A run that finished, or released its mark just as it was
 * stopped, is let go (it must still succeed) and started again.
 */
async function readerStopped(args: string[]): Promise<{ child: ChildProcess; done: Promise<CliResult> }> {
  const dir = path.join(folder, 'readers');
  for (let attempt = 0; attempt < 5; attempt++) {
    const { child, done } = startCli(args);
    const pid = child.pid as number;
    const mine = (): boolean => fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith(`${pid}.`));
    // Polled every 2 ms for up to 30 s: the reader holds its mark for its whole run.
    for (let i = 0; i < 15000 && !mine() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 2));
    if (child.exitCode === null) {
      child.kill('SIGSTOP');
      assert.ok(await stopped(pid), 'the reader stops on SIGSTOP');
      if (mine()) return { child, done };
      child.kill('SIGCONT');
    }
    const run = await done;
    assert.equal(run.code, 0, describe(run));
  }
  return assert.fail('the reader was never caught while it read (5 runs)');
}

async function pruneIsRefused(reader: RegExp): Promise<void> {
  const prune = await runCli(['backups', 'prune', folder, '--keep-last', '1', '--json']);
  assert.equal(prune.code, 2, describe(prune));
  assert.equal(prune.error?.code, 'E_FOLDER_BUSY');
  assert.match(prune.error?.message ?? '', reader);
  assert.equal((await generations(folder)).length, 2, 'the refused prune removed nothing');
  assert.equal(fs.existsSync(path.join(folder, 'lock')), false, 'and left no lock');
}

test('a prune started while a restore reads the generation it would delete is refused; the restore completes, verified', async () => {
  const tgt = target as LoopDevice;
  const { child, done } = await readerStopped(['restore', `${folder}#1`, tgt.device, '--yes', '--json']);
  try {
    await pruneIsRefused(new RegExp(`being read by Imprint process ${child.pid} on .*\\(a restore from `));
  } finally {
    child.kill('SIGCONT');
  }
  const run = await done;
  assert.equal(run.code, 0, describe(run));
  assert.equal(run.finished?.targets[0]?.status, 'verified');
  const [p1] = await announcePartitions(tgt.device, 1);
  assert.deepEqual(await extFiles(p1 as string, t.dir), firstFiles, "generation 1's files, as they were");
  await runTool('partx', ['-d', tgt.device], { timeoutMs: SLOW_TOOL_MS, allowFail: true });
  assert.deepEqual(fs.readdirSync(path.join(folder, 'readers')), [], 'the restore removed its mark');
});

test('a prune started while a verify runs is refused; the verify completes and finds every piece', async () => {
  const { child, done } = await readerStopped(['backups', 'verify', folder, '--json']);
  try {
    await pruneIsRefused(new RegExp(`being read by Imprint process ${child.pid} on .*\\(a verify of `));
  } finally {
    child.kill('SIGCONT');
  }
  const run = await done;
  assert.equal(run.code, 0, describe(run));
  assert.equal((JSON.parse(run.stdout) as { ok: boolean; generations: number }).generations, 2);
});

test("while a prune holds the folder, list, verify, restore and export are refused naming it; after, prune runs", async () => {
  const lock = lockFolder(folder, 'prune', { excludesReaders: true });
  try {
    for (const args of [
      ['backups', 'list', folder],
      ['backups', 'verify', folder],
      ['restore', `${folder}#1`, (target as LoopDevice).device, '--yes'],
      ['backups', 'export', `${folder}#1`, path.join(t.dir, 'out.img.zst')],
    ]) {
      const run = await runCli([...args, '--json']);
      assert.equal(run.code, 2, `${args.join(' ')}: ${describe(run)}`);
      assert.equal(run.error?.code, 'E_FOLDER_BUSY', args.join(' '));
      assert.match(run.error?.message ?? '', new RegExp(`being pruned by Imprint process ${process.pid} on .*\\(prune, since`));
    }
  } finally {
    lock.release();
  }
  assert.equal(fs.existsSync(path.join(t.dir, 'out.img.zst')), false);
  const prune = await runCli(['backups', 'prune', folder, '--keep-last', '1', '--json']);
  assert.equal(prune.code, 0, describe(prune));
  assert.equal((await generations(folder)).length, 1);
  const verify = await runCli(['backups', 'verify', folder, '--json']);
  assert.equal(verify.code, 0, describe(verify));
});
