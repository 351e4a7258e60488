import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { openFileStream } from '../io/growing-read-stream';

/**
 * Decoders run as programs found on the system (lbzip2, xz), fed through
 * pipes: native speed on every core, memory bounded by the pipes, and a
 * crash or leak in a decoder cannot take Imprint down with it. They are run
 * with an argument vector, never a shell. The callers (bzip2-decoder.ts,
 * xz-decoder.ts) decide when such a program is usable and fall back to a
 * library decoder in this process when none is.
 */

/** The first of `names` found executable on PATH (or the usual bin folders), or null. */
export function findProgram(names: readonly string[]): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/bin', '/usr/local/bin']);
  for (const name of names) {
    for (const dir of dirs) {
      if (!dir) continue;
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // Not here.
      }
    }
  }
  return null;
}

/**
 * What a decoder program said when it failed, for a person: its first line
 * (bzip2 follows it with a page of advice), without the "xz: (stdin): "
 * prefix.
 */
export function programComplaint(stderr: string, code: number | null): string {
  const first = stderr.trim().split('\n').find((l) => l.trim() !== '');
  return first ? first.trim().replace(/^[^:]*: (\(stdin\): )?/, '') : `it stopped with exit code ${code}`;
}

/**
 * Runs `program args...` with the compressed file on stdin and yields what it
 * writes to stdout, as it comes (one stream hop: at 400 MB/s the per-chunk
 * cost of stacked Node streams shows). The end comes only once the exit
 * status is known: a truncated file ends in an error carrying the program's
 * own last words ("Unexpected end of input", stripped of "xz: (stdin): "),
 * not in a clean end of data. Ending the iteration early (cancel) kills it.
 */
export async function* decodeWithProgram(
  program: string,
  args: readonly string[],
  file: string,
  opts: { start?: number; signal?: AbortSignal; onInput?: (bytes: number) => void } = {},
): AsyncGenerator<Buffer> {
  const child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  let failure: Error | null = null;
  child.on('error', (err) => (failure ??= err));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A file still downloading is fed as it arrives (io/growing-read-stream.ts).
  const input = openFileStream(file, { start: opts.start ?? 0, highWaterMark: 1 << 20, signal: opts.signal });
  input.on('error', (err) => {
    if (!opts.signal?.aborted) failure ??= err;
    child.kill();
  });
  if (opts.onInput) input.on('data', (c) => opts.onInput?.(c.length));
  // EPIPE on stdin when the decoder quit early on corrupt input: the exit status says why.
  child.stdin.on('error', () => {});
  input.pipe(child.stdin);
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    const code = await exited;
    if (failure) throw failure;
    if (code !== 0) throw new Error(programComplaint(stderr, code));
  } finally {
    input.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
