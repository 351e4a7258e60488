import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { JobEvent } from '../../../shared/job-events';
import { classifyCliLine, cliResult, spawnCli, type CliResult } from '../testing/run-cli';
import { faultToolsAvailable } from '../../engine/testing/faulty-device';
import { fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { readDirect } from '../../engine/testing/loop-device';
import { record } from './fault-tally';

/**
 * Shared pieces of the fault bench (electron/cli/faults/*.test.ts): each
 * test hands Imprint a real faulty block device (testing/faulty-device.ts)
 * through the real command line, and checks the report it gives.
 */

export const MiB = 1 << 20;
/** A test builds a device or two and runs the CLI a few times: well under a minute when healthy. */
export const FAULT_TIMEOUT = 120_000;
/**
 * The stall watchdog's limit in the CLIs the bench runs (IMPRINT_STALL_TIMEOUT_MS):
 * short, so that the hang tests are quick, and long enough for a healthy
 * faulty device (a 4 MiB write takes some 50 ms through nbdkit) on a busy machine.
 */
export const BENCH_STALL_MS = 5_000;

const tools = faultToolsAvailable();
const skipReason = tools.ok ? '' : `faulty-device harness unavailable, missing: ${tools.missing.join(', ')}`;
if (skipReason) console.log(`# ${skipReason}`);

/** True when faulty devices can be built; otherwise marks the test skipped with the reason. */
export function canRun(t: TestContext): boolean {
  if (skipReason) t.skip(skipReason);
  return !skipReason;
}

/**
 * A test that injects a fault: counted as injected when it starts and as
 * survived only if every assertion after it held (the right report, nothing
 * claiming success). Skipped, with the reason, without the harness.
 */
export function faultTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(name, { timeout: FAULT_TIMEOUT }, async (t) => {
    if (!canRun(t)) return;
    record({ kind: 'fault', name, event: 'injected' });
    await fn(t);
    record({ kind: 'fault', name, event: 'survived' });
  });
}

// ---- the CLI, as a user runs it ----

/** A finished run (testing/run-cli.ts). */
export type CliRun = CliResult;

export interface Imprint {
  child: ChildProcess;
  /** Resolves with the first event matching `pred` (null if the CLI exits first). */
  waitForEvent(pred: (e: JobEvent) => boolean): Promise<JobEvent | null>;
  /** Resolves when the CLI has exited. */
  exited: Promise<CliRun>;
  /** What it printed on stderr so far. */
  stderr(): string;
}

/**
 * Starts `imprint ARGS... --json` (testing/run-cli.ts's spawnCli: the guard
 * preloaded) with a short stall limit, and follows its events as they come;
 * `asNobody` runs it as the user nobody.
 */
export function startImprint(args: string[], env: NodeJS.ProcessEnv = {}, asNobody = false): Imprint {
  const child = spawnCli([...args, '--json'], { IMPRINT_STALL_TIMEOUT_MS: String(BENCH_STALL_MS), ...env }, { asNobody });
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  const events: JobEvent[] = [];
  let pending = '';
  const waiters: { pred: (e: JobEvent) => boolean; resolve: (e: JobEvent | null) => void }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const c = classifyCliLine(JSON.parse(line));
      if (!c || !('event' in c)) continue;
      events.push(c.event);
      for (const w of waiters.filter((x) => x.pred(c.event))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(c.event);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(null);
      try {
        resolve(cliResult(code, signal, stdout, stderr, true));
      } catch (err) {
        reject(err);
      }
    });
  });
  return {
    child,
    exited,
    stderr: () => stderr,
    waitForEvent: (pred) => {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/**
 * Runs `imprint ARGS... --json` to the end. `onStuck` runs if it has not
 * exited after `timeoutMs` (kill the faulty device: a thread stuck in the
 * kernel on it is then freed), and the test fails saying so.
 */
export async function imprint(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onStuck?: () => Promise<void>; asNobody?: boolean } = {}): Promise<CliRun> {
  const run = startImprint(args, opts.env, opts.asNobody);
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), opts.timeoutMs ?? 60_000)));
  const first = await Promise.race([run.exited, stuck]);
  clearTimeout(timer);
  if (first !== 'stuck') return first;
  await opts.onStuck?.();
  run.child.kill('SIGKILL');
  const late = await run.exited;
  assert.fail(`imprint ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 60_000} ms.\n${describe(late)}`);
}

/** `promise`, or a failed assertion saying `what` did not happen within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what}: not within ${ms} ms` })), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 100 ms until it holds, or fails saying `what` after `ms`. */
export async function eventually(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A run, for assertion messages. */
export function describe(r: CliRun): string {
  const lines = r.stdout.split('\n').filter((l) => !l.includes('"type":"progress"'));
  return `exit ${r.code}\n--- stdout (progress left out) ---\n${lines.join('\n').slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;
}

/** No crash: no stack trace, no E_INTERNAL. */
export function noCrash(r: CliRun): void {
  assert.ok(!/^\s+at .+(\.js|\.ts|node:)/m.test(r.stderr), `stack trace on stderr:\n${r.stderr}`);
  assert.notEqual(r.error?.code, 'E_INTERNAL', describe(r));
}

/** Exit 1, the job failed with `code`, and no target claims success. */
export function failedWith(r: CliRun, code: string): ErrorInfo {
  noCrash(r);
  assert.equal(r.code, 1, describe(r));
  assert.equal(r.finished?.ok ?? false, false, 'the job says ok');
  assert.equal(r.error?.code, code, describe(r));
  return r.error as ErrorInfo;
}

// ---- images and devices ----

/** A pseudo-random raw image of `size` bytes (incompressible: every byte counts), built once per process. */
export function randomImage(size: number, seed = 'fault bench image'): string {
  const file = path.join(fixtureDir(), `random-${size}-${seed.replace(/\W+/g, '-')}.img`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, pseudoRandom(size, seed));
  return file;
}

/** The image's first MiB (written last) is not on the device: a failed flash never looks bootable. */
export function headAbsent(device: string, image: string): void {
  const head = Buffer.alloc(MiB);
  const fd = fs.openSync(image, 'r');
  try {
    fs.readSync(fd, head, 0, MiB, 0);
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(!readDirect(device, 0, MiB).equals(head), `${device} holds the image's head although the job failed`);
}
