import * as zlib from 'zlib';

/**
 * CRC-32 (zlib's: IEEE polynomial, continued from `value`), the checksum of
 * every chunk a backup records and a restore or flash reads back. Node's
 * zlib.crc32 is zlib's table-driven code, 2.6-3.8 GB/s on the machines
 * measured here, and a read-back takes it of every byte: 13% of a smart
 * restore's CPU on the bench drive. @node-rs/crc32 (the crc32fast crate:
 * PCLMULQDQ on x86-64, the CRC instructions on ARMv8) gives the same values
 * 2.4x faster (6.5 against 2.6 GB/s side by side, 4 MiB pieces, 2 busy
 * cores). It ships prebuilt for each platform as an optional package, with
 * no install script; where none is installed (an OS or CPU it does not
 * build for, a package made for another OS), zlib's is used. Checked once
 * on a known value before it is trusted. IMPRINT_CRC32=zlib forces zlib's
 * (for comparing the two).
 */
export type Crc32 = (data: Uint8Array, value?: number) => number;

const viaZlib: Crc32 = (data, value = 0) => zlib.crc32(data, value) >>> 0;

/** The CRC-32 of "123456789", the check value of this CRC's catalogue entry. */
const CHECK = 0xcbf43926;

function pick(): { crc32: Crc32; by: 'crc32fast' | 'zlib' } {
  if (process.env.IMPRINT_CRC32 === 'zlib') return { crc32: viaZlib, by: 'zlib' };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native package: absent on some platforms
    const fast = (require('@node-rs/crc32') as typeof import('@node-rs/crc32')).crc32;
    const probe = Buffer.from('123456789');
    if (fast(probe) >>> 0 === CHECK && fast(probe.subarray(4), fast(probe.subarray(0, 4))) >>> 0 === CHECK) {
      return { crc32: (data, value = 0) => fast(data, value) >>> 0, by: 'crc32fast' };
    }
  } catch {
    // Not built for this platform: zlib's below.
  }
  return { crc32: viaZlib, by: 'zlib' };
}

const picked = pick();

/** CRC-32 of `data`, continued from `value` (the CRC-32 of what came before it). */
export const crc32: Crc32 = picked.crc32;

/** Which implementation this process uses (for tests and diagnostics). */
export const crc32Implementation: 'crc32fast' | 'zlib' = picked.by;
