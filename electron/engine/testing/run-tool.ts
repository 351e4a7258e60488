import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Process helpers for the test harnesses (loop-device.ts, faulty-device.ts).
 * Every tool runs from an argv array, never a shell string (docs/architecture.md: no
 * shell strings built from arguments).
 */

/**
 * Short-lived tools (losetup, fusermount3, fallocate) answer in milliseconds;
 * 15 s leaves room for a shared, noisy machine. The harness owns this timeout:
 * a tool that has not answered by then is stuck (e.g. in D state on a hung
 * device), and the test should fail rather than hang the whole run.
 */
export const TOOL_TIMEOUT_MS = 15_000;

/**
 * For tools that do real work on a test's fixture (mkfs, compressors, cmp,
 * a copy of a file tree): seconds on an idle machine, many times that on one
 * shared with other test runs. Bounds a stuck tool only; not a measurement.
 */
export const SLOW_TOOL_MS = 120_000;

/**
 * Absolute path of `cmd`, or undefined if absent. Looks in PATH and then in
 * the sbin dirs: losetup lives in /usr/sbin, which a non-login PATH may lack.
 */
export function resolveTool(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, cmd);
    if (dir !== '' && path.isAbsolute(dir) && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface ToolResult {
  /** The exit code (0 unless `allowFail`). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  /** Default TOOL_TIMEOUT_MS; mkfs, debugfs or a copy of a large tree want more. */
  timeoutMs?: number;
  /** Written to the tool's stdin (sfdisk's script); without it stdin is /dev/null. */
  input?: string;
  /** Resolve with a non-zero exit code instead of rejecting (cmp's "differ", a teardown's "already gone"). */
  allowFail?: boolean;
}

/**
 * The one way tests run a program: argv, never a shell string. Resolves on
 * exit 0 (or any exit with `allowFail`), rejects with its stderr otherwise
 * or on timeout. A number for `opts` is the timeout.
 */
export function runTool(cmd: string, args: string[], opts: ToolOptions | number = {}): Promise<ToolResult> {
  const { timeoutMs = TOOL_TIMEOUT_MS, input, allowFail = false } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  return new Promise((resolve, reject) => {
    const child = spawn(resolveTool(cmd) ?? cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    if (input !== undefined) {
      // EPIPE when the tool exits without reading its input: its exit code says what happened.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input);
    }
    const timeoutError = () => new Error(`${cmd} ${args.join(' ')}: no answer after ${timeoutMs} ms`);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // The rejection waits for the exit (2 s at most: a process in D state
      // never exits), so a half-done losetup has finished or failed before
      // the caller's cleanup looks at the loop devices.
      setTimeout(() => reject(timeoutError()), 2_000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(timeoutError());
      else if (code === 0 || (allowFail && code !== null)) resolve({ code: code ?? 0, stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

export interface SyncToolOptions extends Omit<ToolOptions, 'input'> {
  input?: string | Buffer;
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/**
 * `runTool` for fixture builders that run at module load or inside a
 * synchronous helper: the same argv rule, tool lookup and timeout, and
 * stdout as bytes (a compressor's output). Throws on a non-zero exit unless
 * `allowFail`.
 */
export function runToolSync(cmd: string, args: string[], opts: SyncToolOptions = {}): { code: number; stdout: Buffer; stderr: string } {
  const { timeoutMs = SLOW_TOOL_MS, allowFail = false } = opts;
  const r = spawnSync(resolveTool(cmd) ?? cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    maxBuffer: 256 << 20,
    timeout: timeoutMs,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  const stderr = r.stderr.toString('utf8');
  const code = r.status ?? -1;
  if (code !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${stderr.trim()}`);
  return { code, stdout: r.stdout, stderr };
}

/** A long-running child whose stderr tail is kept for error messages. */
export interface Daemon {
  child: ChildProcess;
  /** Last few KiB of stderr (nbdkit prints a Python traceback per injected error). */
  stderrTail(): string;
  /** Resolves when the process has exited (at once if it already has). */
  exited: Promise<void>;
}

export function startDaemon(cmd: string, args: string[]): Daemon {
  // Own session: a Ctrl-C meant for the test reaches only the test, whose
  // handler tears devices down in order (faulty-device-teardown.ts).
  const child = spawn(resolveTool(cmd) ?? cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let tail = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    tail = (tail + s).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      tail += `\nspawn failed: ${err.message}`;
      resolve();
    });
  });
  return { child, stderrTail: () => tail, exited };
}

export function isRunning(d: Daemon): boolean {
  return d.child.exitCode === null && d.child.signalCode === null && d.child.pid !== undefined;
}

/**
 * Waits until `pidFile` is written (nbdkit and nbdfuse write it once they
 * serve), failing early if the daemon exits first. 10 s: both start in well
 * under a second; the rest is margin for a loaded machine.
 */
export async function waitForPidFile(d: Daemon, pidFile: string, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (fs.readFileSync(pidFile, 'utf8').trim() !== '') return;
    } catch {
      // Not written yet.
    }
    if (!isRunning(d)) throw new Error(`${what} exited before it was ready: ${d.stderrTail().trim()}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms: ${d.stderrTail().trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGKILLs the daemon (if alive) and waits up to `timeoutMs` for it to be reaped. */
export async function killDaemon(d: Daemon, timeoutMs = 5_000): Promise<void> {
  if (isRunning(d)) d.child.kill('SIGKILL');
  await Promise.race([d.exited, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
}
