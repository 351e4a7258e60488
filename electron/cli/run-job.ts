import type { JobFinishedEvent, TargetProgress } from '../../shared/job-events';
import { EXIT, exitCodeFor } from '../../shared/error-codes';
import { formatBytes } from '../../shared/units';
import { ImprintError } from '../engine/errors';
import { engineSettingsFromEnv, type EngineSettings } from '../engine/jobs/engine-settings';
import type { Output } from './output';
import { cancelOnBrokenPipe } from './broken-pipe';

/**
 * Runs a job with Ctrl-C wired to its AbortSignal: the first Ctrl-C cancels
 * (workers stop after the current 4 MiB and close the devices); a second one
 * exits at once. SIGTERM and SIGHUP (the terminal went away) do the same.
 */
export async function withCancel<T>(out: Output, fn: (signal: AbortSignal) => Promise<T>, opts: { stdinCancel?: boolean } = {}): Promise<T> {
  const controller = new AbortController();
  // --stdin-cancel: the desktop app runs this command as root through pkexec
  // and, as an ordinary user, may not signal it; it closes our stdin instead
  // (and so does its death: no root job outlives the app).
  const onStdinEnd = (): void => controller.abort();
  if (opts.stdinCancel) {
    process.stdin.on('end', onStdinEnd);
    process.stdin.on('error', onStdinEnd);
    process.stdin.resume();
  }
  let presses = 0;
  const onSigint = (): void => {
    presses++;
    if (presses === 1) {
      out.info('Cancelling... (press Ctrl-C again to quit at once)');
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  // The terminal closed under the job (its window shut, an ssh session dropped): cancelled and cleaned up, not killed mid-write.
  process.on('SIGHUP', onSigint);
  // Whoever reads our output is gone (a pipe closed): cancelled as by Ctrl-C (broken-pipe.ts).
  const stopWatching = cancelOnBrokenPipe(() => controller.abort());
  try {
    return await fn(controller.signal);
  } finally {
    stopWatching();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    process.off('SIGHUP', onSigint);
    if (opts.stdinCancel) {
      process.stdin.off('end', onStdinEnd);
      process.stdin.off('error', onStdinEnd);
      process.stdin.pause();
    }
  }
}

let settings: EngineSettings | undefined;

/** How the engine works, from this process's environment (engine-settings.ts), read once: the engine itself never reads it. */
export function engineSettings(): EngineSettings {
  return (settings ??= engineSettingsFromEnv(process.env));
}

/** The options a write job takes from the environment. */
export function writeSettings(): { verifyWhileWriting: EngineSettings['verifyWhileWriting']; zeroOut: EngineSettings['zeroOut'] } {
  const s = engineSettings();
  return { verifyWhileWriting: s.verifyWhileWriting, zeroOut: s.zeroOut };
}

/**
 * The stall watchdog's limit (ms) for this run, from IMPRINT_STALL_TIMEOUT_MS
 * when set (tests of hung drives set it low; a slow drive may want it high),
 * else undefined for the engine's default. Not an option in --help: 30 s
 * suits every drive a person is likely to have.
 */
export function stallTimeoutMs(): number | undefined {
  const raw = process.env.IMPRINT_STALL_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 100) throw new ImprintError('E_BAD_ARGUMENTS', `IMPRINT_STALL_TIMEOUT_MS takes a whole number of milliseconds, at least 100; got "${raw}".`);
  return ms;
}

const STATE_WORDS: Record<TargetProgress['status'], string> = {
  pending: 'not started',
  writing: 'writing',
  written: 'written (not verified)',
  verifying: 'verifying',
  verified: 'written and verified',
  failed: 'FAILED',
  cancelled: 'cancelled',
};

/**
 * The closing lines of a write job for people, and its exit code. `words`
 * replaces how a status is said (a verify job wrote nothing: its drives are
 * "verified", not "written and verified").
 */
export function reportFinished(out: Output, result: JobFinishedEvent, words: Partial<Record<TargetProgress['status'], string>> = {}): number {
  out.done();
  if (!out.json) {
    for (const t of result.targets) {
      let line = `${t.device}: ${words[t.status] ?? STATE_WORDS[t.status]}`;
      if (t.error && t.status !== 'cancelled') line += ` - ${t.error.message}`;
      if (t.status === 'cancelled' || (t.status === 'failed' && t.bytesWritten > 0 && t.bytesVerified === 0)) {
        line += t.status !== 'cancelled' && t.error?.message.includes('old data is erased')
          ? `\n  ${formatBytes(t.bytesWritten)} were written before it stopped.`
          : `\n  ${formatBytes(t.bytesWritten)} were written before it stopped. Its old data is erased: the old partition table was wiped and the new one not yet written, so it holds no usable filesystem. Flash or format it again before use.`;
      }
      out.result(line);
    }
    if (result.error && result.targets.every((t) => !t.error)) out.info(result.error.message);
    if (result.digests?.sha256) out.info(`SHA-256 of the image content: ${result.digests.sha256}`);
  }
  if (result.ok) return EXIT.ok;
  return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
}
