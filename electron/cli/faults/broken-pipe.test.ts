// The reader of the CLI's output goes away mid-job (`imprint backup ... --json
// | head -1`, a wrapper that died): the job is cancelled and cleaned up as
// by Ctrl-C, never a crash with a stack trace and a partial file left.
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSlowDrive } from '../../engine/testing/slow-drive';
import { fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { spawnCli } from '../testing/run-cli';
import { MiB, faultTest, within } from './fault-bench';

interface SlowBackup {
  child: ChildProcess;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  /** The backup, its description, its partial file: what must not be left. */
  leftovers: string[];
}

/**
 * `imprint backup --json` of a 32 MiB drive at 2 MB/s (some 16 s), returned
 * once its first event is out, so `act` finds it mid-way; then cleans up.
 */
async function midBackup(name: string, act: (b: SlowBackup) => Promise<void>): Promise<void> {
  const drive = await createSlowDrive(32 * MiB, '16M', { initialContent: pseudoRandom(32 * MiB, name) });
  const out = path.join(fixtureDir(), `${name}-${process.pid}.img.zst`);
  const leftovers = [out, `${out}.json`, `${out}.imprint-partial`];
  try {
    const child = spawnCli(['backup', drive.device, out, '--sector-by-sector', '--yes', '--json']);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await within(new Promise<void>((resolve) => child.stdout?.once('data', () => resolve())), 30_000, 'the first event');
    await act({ child, exited, stdout: () => stdout, stderr: () => stderr, leftovers });
  } finally {
    for (const f of leftovers) fs.rmSync(f, { force: true });
    await drive.close();
  }
}

faultTest('the reader of --json output goes away mid-backup: the backup is cancelled and cleaned up, exit 1, no stack trace', () =>
  midBackup('broken-pipe', async ({ child, exited, stderr, leftovers }) => {
    // The pipe closed after the first line, as `| head -1` does.
    child.stdout?.destroy();
    const code = await within(exited, 60_000, 'imprint backup after its output closed');
    assert.equal(code, 1, `cancelled, as by Ctrl-C; stderr:\n${stderr()}`);
    assert.doesNotMatch(stderr(), /^\s+at /m, 'no stack trace');
    assert.deepEqual(leftovers.filter((f) => fs.existsSync(f)), [], 'nothing left that looks like a backup, nor a partial file');
  }),
);

faultTest('SIGHUP (the terminal closed) mid-backup: cancelled and cleaned up as by Ctrl-C, exit 1', () =>
  midBackup('hang-up', async ({ child, exited, stdout, stderr, leftovers }) => {
    child.kill('SIGHUP');
    const code = await within(exited, 60_000, 'imprint backup after SIGHUP');
    assert.equal(code, 1, `stderr:\n${stderr()}`);
    assert.match(stdout(), /"code":"E_CANCELLED"/, 'the job says it was cancelled');
    assert.deepEqual(leftovers.filter((f) => fs.existsSync(f)), [], 'nothing left that looks like a backup, nor a partial file');
  }),
);
