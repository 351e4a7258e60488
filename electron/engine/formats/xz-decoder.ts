import { spawnSync } from 'child_process';
import { availableParallelism } from 'os';
import { findProgram } from './native-decoder';

/**
 * Which .xz decoder to use. lzma-native bundles liblzma 5.2, which decodes
 * about 2.5 times slower per core than the liblzma 5.4 of Debian 12's xz,
 * and its worker threads (xz-parallel-decoder.ts) fragment malloc's heap to
 * about 500 MiB of RSS on a 1 GiB image. xz 5.4 and later decode the blocks
 * of a multi-block file (what `xz -T0` writes) on several threads by itself
 * (measured here on a 1 GiB OS image: 216 MB/s on one thread, 396 MB/s on
 * two, 155 MiB RSS in its own process). So an xz program with liblzma >= 5.4
 * found on the system is preferred (native-decoder.ts); without one (older
 * xz, Windows) the in-process parallel decoder is used.
 * IMPRINT_XZ_DECODER=builtin forces the in-process one.
 */

/** Decoder threads: more than four outrun any drive, and each holds a block (24 MiB at -6) twice. */
const MAX_THREADS = 4;

let found: string | null | undefined;

/** liblzma's version from `xz --version` ("liblzma 5.4.1"), as [major, minor]; null when unreadable. */
export function liblzmaVersion(program: string): [number, number] | null {
  const r = spawnSync(program, ['--version'], { encoding: 'utf8', timeout: 5000 });
  const m = /^liblzma (\d+)\.(\d+)/m.exec(r.stdout ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The system's xz program, if it decodes on several threads (liblzma 5.4 or later). */
export function nativeXz(): string | null {
  if (found !== undefined) return found;
  found = null;
  if (process.env.IMPRINT_XZ_DECODER === 'builtin') return found;
  const program = findProgram(['xz']);
  const version = program ? liblzmaVersion(program) : null;
  if (program && version && (version[0] > 5 || (version[0] === 5 && version[1] >= 4))) found = program;
  return found;
}

/**
 * Memory xz may use per decoding thread. Left alone, xz 5.4 decodes ahead as
 * far as a quarter of RAM allows (157 MiB with two threads on the bench
 * image, for no speed); a thread needs about a block in and a block out (48
 * MiB at xz's default -6). Files with larger blocks (-9: 192 MiB) get fewer
 * threads, down to one, rather than more memory.
 */
const MEMORY_PER_THREAD_MIB = 56;

/** The system xz's arguments for decoding stdin to stdout. */
export function nativeXzArgs(): string[] {
  const threads = Math.max(1, Math.min(MAX_THREADS, availableParallelism()));
  // --single-stream is not given: concatenated .xz streams are one image, as xzcat reads them.
  return ['--decompress', '--stdout', `--threads=${threads}`, `--memlimit-mt-decompress=${threads * MEMORY_PER_THREAD_MIB}MiB`];
}
