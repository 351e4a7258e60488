import { spawn } from 'child_process';
import type { ErrorInfo } from '../../shared/error-codes';
import { CLI_ERROR_SCHEMA, JOB_EVENT_SCHEMA } from '../../shared/job-event-schemas';
import type { JobEvent, JobFinishedEvent, TargetProgress } from '../../shared/job-events';

/**
 * Runs a job as root through the OS's own prompt when the app may not open
 * the device itself. The window never runs as root: the privileged part is
 * the `imprint` command (bin/imprint.js) with `--json`, started by pkexec
 * with an argument vector (never a shell string), and its newline-delimited
 * JSON events feed the same event stream as a job run in-process.
 *
 * Cancelling: a user process may not signal a root one, so the helper gets
 * `--stdin-cancel` and cancels when its standard input closes; that also
 * stops it if the app dies.
 */

/** How to start the `imprint` command. */
export interface HelperCommand {
  /** The program that asks for permission: `pkexec` on Linux. */
  elevator: string;
  /** The runtime that executes the CLI script: Node, or Electron's binary. */
  execPath: string;
  /** Electron's binary runs a script as plain Node only with ELECTRON_RUN_AS_NODE=1 (pkexec clears the environment, so it goes through env(1)). */
  runAsNode: boolean;
  /** Absolute path of bin/imprint.js. */
  cliScript: string;
}

/** The argument vector: [program, ...args]. The CLI's own arguments go last, after nothing a path could be mistaken for. */
export function helperArgv(cmd: HelperCommand, cliArgs: readonly string[]): { program: string; args: string[] } {
  const runtime = cmd.runAsNode ? ['/usr/bin/env', 'ELECTRON_RUN_AS_NODE=1', cmd.execPath] : [cmd.execPath];
  return { program: cmd.elevator, args: [...runtime, cmd.cliScript, ...cliArgs] };
}

/** `imprint flash` arguments for a flash request: confirmed (the app asked), JSON events, cancel on stdin EOF. */
export function flashCliArgs(req: { image: string; targets: readonly string[]; verify: boolean }): string[] {
  // "--" ends the options: no path, whatever it looks like, is read as one.
  return ['flash', '--yes', '--json', '--stdin-cancel', ...(req.verify ? [] : ['--no-verify']), '--', req.image, ...req.targets];
}

/** `imprint format` arguments for a format request. */
export function formatCliArgs(req: { drive: string; filesystem?: string; label?: string }): string[] {
  return ['format', '--yes', '--json', '--stdin-cancel', ...(req.filesystem ? [`--fs=${req.filesystem}`] : []), ...(req.label !== undefined ? [`--label=${req.label}`] : []), '--', req.drive];
}

/** `imprint restore` arguments for a restore request. */
export function restoreCliArgs(req: { backup: string; targets: readonly string[]; verify: boolean; wipeFreeSpace?: boolean }): string[] {
  return ['restore', '--yes', '--json', '--stdin-cancel', ...(req.verify ? [] : ['--no-verify']), ...(req.wipeFreeSpace ? ['--wipe-free-space'] : []), '--', req.backup, ...req.targets];
}

/** `imprint backup` arguments; `--yes` because the app's user chose the drive (a mounted-partition warning still arrives as an event). */
export function backupCliArgs(req: { device: string; output: string; compression: string; force?: boolean; rescue?: boolean; sectorBySector?: boolean }): string[] {
  return ['backup', '--yes', '--json', '--stdin-cancel', '--compress', req.compression, ...(req.force ? ['--force'] : []), ...(req.rescue ? ['--rescue'] : []), ...(req.sectorBySector ? ['--sector-by-sector'] : []), '--', req.device, req.output];
}

/** `imprint backup DEVICE --into FOLDER` arguments (a backup folder); `--yes` as for backupCliArgs. */
export function folderBackupCliArgs(req: { device: string; folder: string; encrypt?: boolean }): string[] {
  return ['backup', '--yes', '--json', '--stdin-cancel', '--into', req.folder, ...(req.encrypt ? ['--encrypt'] : []), '--', req.device];
}

/** Splits a byte stream into lines; a line longer than `maxLine` is dropped (a helper does not print megabytes per event). */
export class LineSplitter {
  private rest = '';
  private skipping = false;

  constructor(private readonly maxLine = 1 << 20) {}

  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    if (this.rest.length > this.maxLine) {
      this.rest = '';
      this.skipping = true;
    }
    const lines: string[] = [];
    for (const part of parts) {
      if (this.skipping) {
        // The tail of an overlong line.
        this.skipping = false;
        continue;
      }
      lines.push(part.replace(/\r$/, ''));
    }
    return lines;
  }

  /** What is left when the stream ends (a last line without a newline). */
  end(): string[] {
    const last = this.skipping ? '' : this.rest;
    this.rest = '';
    this.skipping = false;
    return last.trim() ? [last.replace(/\r$/, '')] : [];
  }
}

const EVENT_TYPES = new Set<string>(['job-started', 'progress', 'target-failed', 'warning', 'job-finished'] satisfies JobEvent['type'][]);

export type HelperLine =
  | { kind: 'event'; event: JobEvent }
  | { kind: 'error'; error: ErrorInfo }
  /** A job event or error report that fails its schema: never relayed. */
  | { kind: 'invalid'; problem: string }
  | { kind: 'other'; text: string };

/**
 * One line of the helper's stdout. Job events are recognised by their type
 * and checked against the same kind of schema as an IPC request
 * (shared/job-event-schemas.ts); `{type:"error"}` is the CLI's report of a
 * refusal before any job started; anything else is kept as text.
 */
export function parseHelperLine(line: string): HelperLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'other', text: line };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'other', text: line };
  const type = (value as { type?: unknown }).type;
  if (typeof type === 'string' && EVENT_TYPES.has(type)) {
    const checked = JOB_EVENT_SCHEMA(value, 'event');
    return checked.ok ? { kind: 'event', event: checked.value } : { kind: 'invalid', problem: checked.problem };
  }
  if (type === 'error') {
    const checked = CLI_ERROR_SCHEMA(value, 'error report');
    return checked.ok ? { kind: 'error', error: checked.value.error } : { kind: 'invalid', problem: checked.problem };
  }
  return { kind: 'other', text: line };
}

/** What the job ends with when the helper sent a malformed event and no valid result (a helper of another version, or a bug). */
export function invalidHelperOutput(problem: string, action: string): ErrorInfo {
  return { code: 'E_INTERNAL', message: `The privileged helper (to ${action}) sent an event Imprint does not accept (${problem}), and no valid result; whether the job completed is unknown.` };
}

/** How the helper process ended, for `explainHelperFailure`. */
export interface HelperExit {
  /** The error from spawn itself (ENOENT: the elevator is not installed). */
  spawnError?: NodeJS.ErrnoException;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Why elevation or the helper failed, in plain words. pkexec exits 127 when
 * it could not authenticate (no polkit agent to show a prompt, or not
 * authorised) and 126 when the person dismissed the prompt.
 */
export function explainHelperFailure(exit: HelperExit, action: string): ErrorInfo {
  const lastLine = exit.stderr.trim().split('\n').pop()?.trim() ?? '';
  const asRoot = "or run Imprint's command as root instead (sudo imprint ...).";
  if (exit.spawnError) {
    if (exit.spawnError.code === 'ENOENT') {
      return { code: 'E_PERMISSION', message: `Imprint needs administrator rights to ${action}, and asks for them with pkexec (polkit), which is not installed. Install polkit, ${asRoot}` };
    }
    return { code: 'E_PERMISSION', message: `Could not ask for administrator rights to ${action}: ${exit.spawnError.message}` };
  }
  if (exit.code === 126) {
    return { code: 'E_NOT_CONFIRMED', message: `The request for administrator rights to ${action} was dismissed, so nothing was done.` };
  }
  if (exit.code === 127) {
    if (/no authentication agent/i.test(exit.stderr)) {
      return {
        code: 'E_PERMISSION',
        message: `Imprint needs administrator rights to ${action}, but no password prompt could be shown: no polkit authentication agent is running in this session (common over SSH or in a bare window manager). Start your desktop's polkit agent, ${asRoot}`,
      };
    }
    if (/not authorized/i.test(exit.stderr)) {
      return { code: 'E_PERMISSION', message: `The system did not grant administrator rights to ${action} (polkit: not authorized). Ask your administrator, ${asRoot}` };
    }
    return { code: 'E_PERMISSION', message: `Could not get administrator rights to ${action} (pkexec: ${lastLine || 'exit 127'}).` };
  }
  if (exit.signal) return { code: 'E_INTERNAL', message: `The privileged helper (to ${action}) was stopped by ${exit.signal}${lastLine ? `: ${lastLine}` : ''}.` };
  return { code: 'E_INTERNAL', message: `The privileged helper (to ${action}) ended (exit ${exit.code}) without reporting a result${lastLine ? `: ${lastLine}` : ''}.` };
}

export interface RunHelperOptions {
  command: HelperCommand;
  cliArgs: string[];
  /** Our id for the job: the helper's own ids are replaced by it, so the stream looks like an in-process job. */
  jobId: string;
  /** Targets, for the result when the helper never got to report one. */
  targets: readonly string[];
  /** What the rights are for, for messages: "write /dev/sdb", "read /dev/sdc". */
  action: string;
  onEvent: (event: JobEvent) => void;
  signal?: AbortSignal;
}

/** Keeps the end of the helper's stderr for messages; a chatty helper cannot grow memory. */
const STDERR_KEEP = 8192;

/**
 * Runs the CLI through the elevator and relays its events. Resolves with the
 * job's final event, from the helper or, when it never sent one, built from
 * how it ended; never rejects.
 */
export function runHelper(opts: RunHelperOptions): Promise<JobFinishedEvent> {
  const { program, args } = helperArgv(opts.command, opts.cliArgs);
  return new Promise((resolve) => {
    let finished: JobFinishedEvent | null = null;
    let refused: ErrorInfo | null = null;
    /** The first malformed line's problem: said once as a warning, and in the result if no valid one comes. */
    let invalid: string | null = null;
    let stderr = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    const lines = new LineSplitter();
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], shell: false });

    const onAbort = (): void => {
      // Closing stdin is the helper's cancel signal (--stdin-cancel).
      child.stdin.end();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    const handle = (line: string): void => {
      const parsed = parseHelperLine(line);
      if (parsed.kind === 'event') {
        const event = { ...parsed.event, jobId: opts.jobId } as JobEvent;
        if (event.type === 'job-finished') finished = event;
        opts.onEvent(event);
      } else if (parsed.kind === 'error') refused = parsed.error;
      else if (parsed.kind === 'invalid' && invalid === null) {
        invalid = parsed.problem;
        opts.onEvent({ type: 'warning', jobId: opts.jobId, message: `Ignored an event from the privileged helper that Imprint does not accept: ${parsed.problem}.` });
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => lines.push(chunk).forEach(handle));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    // EPIPE when the helper exits before we close its stdin: nothing to do.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      lines.end().forEach(handle);
      if (finished) return resolve(finished);
      const cancelled = opts.signal?.aborted ? { code: 'E_CANCELLED' as const, message: 'Cancelled.' } : null;
      const error = refused ?? cancelled ?? (invalid !== null ? invalidHelperOutput(invalid, opts.action) : explainHelperFailure({ spawnError, code, signal, stderr }, opts.action));
      const status: TargetProgress['status'] = error.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
      const event: JobFinishedEvent = {
        type: 'job-finished',
        jobId: opts.jobId,
        ok: false,
        targets: opts.targets.map((device) => ({ device, status, bytesWritten: 0, bytesVerified: 0 })),
        bytes: 0,
        error,
      };
      opts.onEvent(event);
      resolve(event);
    });
  });
}
