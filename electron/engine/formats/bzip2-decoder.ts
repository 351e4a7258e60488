import type { Transform } from 'stream';
import { findProgram } from './native-decoder';

/**
 * bzip2 decoding. The pure-JavaScript decoder (unbzip2-stream) runs at 3-8
 * MB/s and ignores backpressure: a highly compressible image (long runs of
 * zeros, as OS images have) balloons memory to hundreds of MiB. So Imprint
 * prefers a native decoder found on the system (native-decoder.ts): lbzip2
 * (decodes blocks on all cores), then pbzip2, then bzip2. Only where none
 * exists (Windows, usually) the JavaScript decoder is used.
 * IMPRINT_BZIP2_DECODER=builtin forces the JavaScript one (a native tool
 * that misbehaves; the end-to-end tests use it for an image that takes
 * seconds to decode).
 */
const NATIVE = ['lbzip2', 'pbzip2', 'bzip2'];

let found: string | null | undefined;

export function nativeBzip2(): string | null {
  if (found === undefined) found = process.env.IMPRINT_BZIP2_DECODER === 'builtin' ? null : findProgram(NATIVE);
  return found;
}

/** The JavaScript decoder, for where nativeBzip2() found none: bzip2 in, decoded bytes out. */
export function createBuiltinBzip2Decoder(): Transform {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const unbzip2 = require('unbzip2-stream') as () => Transform;
  return unbzip2();
}
