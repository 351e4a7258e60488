/**
 * The low 32 bits of XXH64 (seed 0): what a zstd frame's content checksum
 * holds. A backup takes it of every chunk it reads from the drive, and its
 * read-back compares the backup's frames with those (workers/drive-reader-
 * worker.ts, backup-check-worker.ts). hash-wasm's XXH64 copies its input
 * out of the backup's shared ring into WebAssembly memory first, and V8
 * copies out of shared memory byte by byte: the copy and the hash were 6%
 * of a smart backup's CPU on the bench drive. @node-rs/xxhash (napi-rs,
 * the xxhash-rust crate) hashes the ring in place, 1.8x faster in a tight
 * loop over 4 MiB of shared memory. Like @node-rs/crc32 it ships prebuilt
 * for each platform as an optional package, with no install script; where
 * none is installed, hash-wasm's is used. Checked on known values before it
 * is trusted; IMPRINT_XXH64=wasm forces hash-wasm's (for comparing the two).
 */
export type Xxh64Low32 = (data: Uint8Array) => number;

/** XXH64 with seed 0 of "" and of "123456789" (the xxHash reference's values). */
const EMPTY = 0xef46db3751d8e999n;
const DIGITS = 0x8cb841db40e6ae83n;

type Native = (input: Uint8Array, seed?: bigint) => bigint;

function native(): Native | null {
  if (process.env.IMPRINT_XXH64 === 'wasm') return null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native package: absent on some platforms
    const { xxh64 } = require('@node-rs/xxhash') as { xxh64: Native };
    if (xxh64(Buffer.alloc(0)) === EMPTY && xxh64(Buffer.from('123456789')) === DIGITS) return xxh64;
  } catch {
    // Not built for this platform: hash-wasm's below.
  }
  return null;
}

async function viaWasm(): Promise<Xxh64Low32> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- one algorithm's bundle of hash-wasm (the package's main loads them all)
  const { createXXHash64 } = require('hash-wasm/dist/xxhash64.umd.min.js') as Pick<typeof import('hash-wasm'), 'createXXHash64'>;
  const h = await createXXHash64();
  return (data) => {
    h.init();
    h.update(data);
    return Buffer.from(h.digest('binary')).readUInt32BE(4);
  };
}

const fast = native();

/** Which implementation this process uses (for tests and diagnostics). */
export const xxh64Implementation: 'xxhash-rust' | 'hash-wasm' = fast ? 'xxhash-rust' : 'hash-wasm';

/** The low 32 bits of XXH64 (seed 0), ready to use: at once natively, after loading hash-wasm's module otherwise. */
export function loadXxh64Low32(): Promise<Xxh64Low32> {
  if (fast) return Promise.resolve((data) => Number(fast(data) & 0xffffffffn));
  return viaWasm();
}
