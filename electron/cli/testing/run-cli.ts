import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { JobEvent, JobFinishedEvent } from '../../../shared/job-events';

/**
 * Runs the real `imprint` command (`node bin/imprint.js`) as a child process,
 * the way a user or script does, with the system-disk guard preloaded in it
 * and its workers. Tests read the exit code, stdout, stderr and, with
 * `--json`, the parsed NDJSON events.
 */

/** The repository root: this file runs from out/electron/cli/testing/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BIN = path.join(REPO_ROOT, 'bin', 'imprint.js');
const GUARD = path.join(__dirname, 'system-disk-guard.js');

/** Where the guard logs any attempt to open a non-loop block device for writing. */
export const GUARD_LOG = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-guard-')), 'guard.log');
process.once('exit', () => fs.rmSync(path.dirname(GUARD_LOG), { recursive: true, force: true }));

/** Lines the guard logged so far (empty when the engine never tried). */
export function guardLog(): string {
  return fs.existsSync(GUARD_LOG) ? fs.readFileSync(GUARD_LOG, 'utf8') : '';
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed line by line; throws in `runCli` if a line is not JSON (with `--json`). */
  events: JobEvent[];
  /** The job-finished event, when there is one. */
  finished: JobFinishedEvent | null;
  /** The error object printed with `--json` when the command is refused before a job starts. */
  error: ErrorInfo | null;
}

/** Starts the CLI; the caller owns the process (for tests that signal it). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_OPTIONS: `--require ${GUARD}`,
      IMPRINT_TEST_GUARD_LOG: GUARD_LOG,
      ...env,
    },
  });
}

/** Parses NDJSON; every non-empty line must be a JSON object. */
export function parseNdjson(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line, i) => {
      try {
        const v = JSON.parse(line) as unknown;
        if (typeof v !== 'object' || v === null) throw new Error('not an object');
        return v;
      } catch (err) {
        throw new Error(`stdout line ${i + 1} is not a JSON object (${(err as Error).message}): ${line.slice(0, 200)}`);
      }
    });
}

/** Collects a spawned CLI's output until it exits; kills it after `timeoutMs` and says so. */
export function collect(child: ChildProcess, json: boolean, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.end();
  return new Promise((resolve, reject) => {
    // Owner: the test harness. A hung CLI must fail the test, not the whole run.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`imprint did not exit within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        const parsed = json ? parseNdjson(stdout) : [];
        const events = parsed.filter((e): e is JobEvent => typeof (e as { type?: unknown }).type === 'string' && (e as { type: string }).type !== 'error');
        const errorLine = parsed.find((e) => (e as { type?: unknown }).type === 'error') as { error: ErrorInfo } | undefined;
        const finished = (events.find((e) => e.type === 'job-finished') as JobFinishedEvent | undefined) ?? null;
        resolve({ code, signal, stdout, stderr, events, finished, error: errorLine?.error ?? finished?.error ?? null });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstderr: ${stderr}`));
      }
    });
  });
}

/** Runs `imprint ARGS...` to completion. */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return collect(spawnCli(args, opts.env), args.includes('--json'), opts.timeoutMs);
}

/** A human-readable summary of a run, for assertion messages. */
export function describe(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
}

/** True when the output shows a JavaScript stack trace (a crash, not a message for people). */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(\.js|\.ts|node:)/m.test(text) || /\b(TypeError|ReferenceError|RangeError):/.test(text);
}
