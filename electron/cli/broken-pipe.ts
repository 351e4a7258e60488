/**
 * The reader of our output went away (`imprint backup ... --json | head -1`,
 * a wrapper that died): a write to stdout or stderr then fails with EPIPE,
 * which Node raises as an 'error' event on the stream and, unhandled, as a
 * crash with a stack trace in the middle of the job, its partial file left
 * behind. A shell's tools die of SIGPIPE there; Node ignores that signal.
 * Here a running job is cancelled as a Ctrl-C would cancel it (its cleanup
 * runs, its exit code says so), and a command without a job ends with the
 * code a shell gives a process killed by SIGPIPE. Writes to the closed
 * stream are dropped from then on (a destroyed stream swallows them).
 */

/** The shell's status for a process that SIGPIPE ended (128 + 13). */
export const BROKEN_PIPE_EXIT = 141;

const cancels = new Set<() => void>();
let broken = false;
let watching = false;

/** Installs the handlers on stdout and stderr (once per process, at the command's start). */
export function watchBrokenPipes(exit: (code: number) => void = (code) => process.exit(code)): void {
  if (watching) return;
  watching = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: a terminal that closed (its window shut). Anything else is not something to carry on from: as before, it ends the process.
      if (err.code !== 'EPIPE' && err.code !== 'EIO') throw err;
      if (broken) return;
      broken = true;
      if (cancels.size === 0) exit(BROKEN_PIPE_EXIT);
      for (const cancel of cancels) cancel();
    });
  }
}

/** While a job runs: `cancel` is called if our output's reader goes away. Returns the function that stops it. */
export function cancelOnBrokenPipe(cancel: () => void): () => void {
  if (broken) cancel();
  cancels.add(cancel);
  return () => void cancels.delete(cancel);
}
