import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Duplex, PassThrough, type Transform } from 'stream';

/**
 * bzip2 decoding. The pure-JavaScript decoder (unbzip2-stream) runs at 3-8
 * MB/s and ignores backpressure: a highly compressible image (long runs of
 * zeros, as OS images have) balloons memory to hundreds of MiB. So Imprint
 * prefers a native decoder found on the system, fed through pipes (bounded
 * by the pipe, at native speed): lbzip2 (decodes blocks on all cores), then
 * pbzip2, then bzip2. It is run with an argument vector, never a shell.
 * Only where none exists (Windows, usually) the JavaScript decoder is used.
 * IMPRINT_BZIP2_DECODER=builtin forces the JavaScript one (a native tool
 * that misbehaves; the end-to-end tests use it for an image that takes
 * seconds to decode).
 */
const NATIVE = ['lbzip2', 'pbzip2', 'bzip2'];

let found: string | null | undefined;

export function nativeBzip2(): string | null {
  if (found !== undefined) return found;
  found = null;
  if (process.env.IMPRINT_BZIP2_DECODER === 'builtin') return found;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/bin', '/usr/local/bin']);
  for (const name of NATIVE) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        found = candidate;
        return found;
      } catch {
        // Not here.
      }
    }
  }
  return found;
}

/** A Transform-like stream: bzip2 in, decoded bytes out; a corrupt input errors with the decoder's words. */
export function createBzip2Decoder(): Transform {
  const bin = nativeBzip2();
  if (!bin) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const unbzip2 = require('unbzip2-stream') as () => Transform;
    return unbzip2();
  }
  const child = spawn(bin, ['-d', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  // The output ends only once the exit status is known: a truncated file must
  // end in an error, not in a clean end of stream followed by a late error.
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  child.stdout.pipe(out, { end: false });
  const duplex = Duplex.from({ writable: child.stdin, readable: out }) as unknown as Transform;
  child.on('error', (err) => duplex.destroy(err));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (signal === null) {
      const said = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${code}`;
      duplex.destroy(new Error(said.replace(/^[^:]*bzip2: /, '')));
    }
  });
  // A consumer that stops early (cancel) must not leave the decoder running.
  duplex.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  // EPIPE on stdin when the decoder quit early on corrupt input: the exit status says why.
  child.stdin.on('error', () => {});
  return duplex;
}
