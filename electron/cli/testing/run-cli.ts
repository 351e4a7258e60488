import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ErrorInfo } from '../../../shared/error-codes';
import { CLI_ERROR_SCHEMA, JOB_EVENT_SCHEMA } from '../../../shared/job-event-schemas';
import type { JobEvent, JobFinishedEvent } from '../../../shared/job-events';

/**
 * The one way tests run the real `imprint` command (`node bin/imprint.js`):
 * a child process, as a user or script runs it, with the system-disk guard
 * preloaded in it and its workers. Tests read the exit code, stdout, stderr
 * and, with `--json`, the parsed NDJSON events, each checked against the
 * job-event schemas the app checks the privileged helper's events with
 * (shared/job-event-schemas.ts): every CLI test is also a test that the
 * CLI's `--json` output is what the app accepts.
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

export interface SpawnOptions {
  /** Run as the user nobody (setpriv): for tests of what an unprivileged user is told. */
  asNobody?: boolean;
}

/** Starts the CLI; the caller owns the process (for tests that signal it). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: SpawnOptions = {}): ChildProcess {
  const argv = [BIN, ...args];
  const [cmd, cmdArgs] = opts.asNobody ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv]] : [process.execPath, argv];
  return spawn(cmd, cmdArgs, {
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

const EVENT_TYPES = new Set<string>(['job-started', 'progress', 'target-failed', 'warning', 'job-finished'] satisfies JobEvent['type'][]);

/**
 * One parsed `--json` line: a job event, the CLI's refusal report, or other
 * data (`ls --json` entries, `info --json`). Throws when an event or report
 * fails its schema, saying where.
 */
export function classifyCliLine(value: unknown): { event: JobEvent } | { error: ErrorInfo } | null {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  // A job event carries its job's id; `ls --json` prints warnings of its own, without one, that are its data.
  const isJobLine = typeof value === 'object' && value !== null && 'jobId' in value;
  if (typeof type === 'string' && EVENT_TYPES.has(type) && isJobLine) {
    const checked = JOB_EVENT_SCHEMA(value, 'event');
    if (!checked.ok) throw new Error(`the CLI printed an event the app would refuse: ${checked.problem}: ${JSON.stringify(value).slice(0, 300)}`);
    return { event: checked.value };
  }
  if (type === 'error') {
    const checked = CLI_ERROR_SCHEMA(value, 'error report');
    if (!checked.ok) throw new Error(`the CLI printed an error report the app would refuse: ${checked.problem}`);
    return { error: checked.value.error };
  }
  return null;
}

/** The result of a finished run from its output (stdout parsed as NDJSON when `json`). */
export function cliResult(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, json: boolean): CliResult {
  const events: JobEvent[] = [];
  let refusal: ErrorInfo | null = null;
  for (const line of json ? parseNdjson(stdout) : []) {
    const c = classifyCliLine(line);
    if (c && 'event' in c) events.push(c.event);
    else if (c) refusal ??= c.error;
  }
  const finished = (events.find((e) => e.type === 'job-finished') as JobFinishedEvent | undefined) ?? null;
  return { code, signal, stdout, stderr, events, finished, error: refusal ?? finished?.error ?? null };
}

/**
 * Bounds a broken run only (a CLI that never exits); no healthy test command
 * comes near it, even an xz backup on a machine shared with other test runs.
 */
const CLI_TIMEOUT_MS = 180_000;

/** Collects a spawned CLI's output until it exits; kills it after `timeoutMs` and says so. */
export function collect(child: ChildProcess, json: boolean, timeoutMs = CLI_TIMEOUT_MS): Promise<CliResult> {
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
        resolve(cliResult(code, signal, stdout, stderr, json));
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

/** Starts `imprint ARGS...` for a test that signals or races it; `done` is its result, as runCli's. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawnCli(args, env);
  return { child, done: collect(child, args.includes('--json')) };
}

/** A human-readable summary of a run, for assertion messages. */
export function describe(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
}

/** True when the output shows a JavaScript stack trace (a crash, not a message for people). */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(\.js|\.ts|node:)/m.test(text) || /\b(TypeError|ReferenceError|RangeError):/.test(text);
}
