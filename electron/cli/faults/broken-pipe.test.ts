// The reader of the CLI's output goes away mid-job (`imprint backup ... --json
// | head -1`, a wrapper that died): the job is cancelled and cleaned up as
// by Ctrl-C, never a crash with a stack trace and a partial file left.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSlowDrive } from '../../engine/testing/slow-drive';
import { fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { spawnCli } from '../testing/run-cli';
import { MiB, faultTest, within } from './fault-bench';

faultTest('the reader of --json output goes away mid-backup: the backup is cancelled and cleaned up, exit 1, no stack trace', async () => {
  // 2 MB/s: the backup of 32 MiB would take some 16 s, so it is mid-way when the pipe closes.
  const drive = await createSlowDrive(32 * MiB, '16M', { initialContent: pseudoRandom(32 * MiB, 'broken pipe') });
  const out = path.join(fixtureDir(), `broken-pipe-${process.pid}.img.zst`);
  const leftovers = [out, `${out}.json`, `${out}.imprint-partial`];
  try {
    const child = spawnCli(['backup', drive.device, out, '--sector-by-sector', '--yes', '--json']);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The first line read, then the pipe closed, as `| head -1` does.
    await within(new Promise<void>((resolve) => child.stdout?.once('data', () => resolve())), 30_000, 'the first event');
    child.stdout?.destroy();
    const code = await within(exited, 60_000, 'imprint backup after its output closed');
    assert.equal(code, 1, `cancelled, as by Ctrl-C; stderr:\n${stderr}`);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    assert.deepEqual(leftovers.filter((f) => fs.existsSync(f)), [], 'nothing left that looks like a backup, nor a partial file');
  } finally {
    for (const f of leftovers) fs.rmSync(f, { force: true });
    await drive.close();
  }
});

faultTest('SIGHUP (the terminal closed) mid-backup: cancelled and cleaned up as by Ctrl-C, exit 1', async () => {
  const drive = await createSlowDrive(32 * MiB, '16M', { initialContent: pseudoRandom(32 * MiB, 'hang up') });
  const out = path.join(fixtureDir(), `hang-up-${process.pid}.img.zst`);
  const leftovers = [out, `${out}.json`, `${out}.imprint-partial`];
  try {
    const child = spawnCli(['backup', drive.device, out, '--sector-by-sector', '--yes', '--json']);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await within(new Promise<void>((resolve) => child.stdout?.once('data', () => resolve())), 30_000, 'the first event');
    child.kill('SIGHUP');
    const code = await within(exited, 60_000, 'imprint backup after SIGHUP');
    assert.equal(code, 1, `stderr:\n${stderr}`);
    assert.match(stdout, /"code":"E_CANCELLED"/, 'the job says it was cancelled');
    assert.deepEqual(leftovers.filter((f) => fs.existsSync(f)), [], 'nothing left that looks like a backup, nor a partial file');
  } finally {
    for (const f of leftovers) fs.rmSync(f, { force: true });
    await drive.close();
  }
});
