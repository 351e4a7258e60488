import * as zlib from 'zlib';
import type * as ZstdBinding from 'zstd-napi/binding';
import { BtrfsProblem } from './btrfs-superblock';
import { LzoError, lzo1xDecompress } from './lzo1x';

/**
 * Decoding a compressed btrfs extent (btrfs_file_extent_item.compression):
 * 1 zlib (one zlib stream), 3 zstd (one zstd frame), each followed by
 * zeros up to the sector, and 2 LZO in btrfs's own framing (fs/btrfs/lzo.c):
 * the total length, then segments of LZO1X data, each with its length
 * before it and each decoding to at most a sector; a segment's length never
 * straddles a sector boundary (the rest of such a sector is padding).
 * `ramBytes` is what the extent holds decoded.
 */

/** No btrfs extent decodes to more than this (BTRFS_MAX_UNCOMPRESSED, 128 KiB); a larger claim is damage. */
export const MAX_DECODED = 128 << 10;

function loadZstd(): typeof ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded where it is used
  return require('zstd-napi/binding') as typeof ZstdBinding;
}
let zstd: { z: typeof ZstdBinding; dctx: ZstdBinding.DCtx } | null = null;

export function compressionName(type: number): string {
  return ['none', 'zlib', 'lzo', 'zstd'][type] ?? `type ${type}`;
}

/** The `ramBytes` decoded bytes of a compressed extent `data`; throws BtrfsProblem or a plain Error the caller reports for the file. */
export function decodeExtent(type: number, data: Buffer, ramBytes: number): Buffer {
  if (ramBytes <= 0 || ramBytes > MAX_DECODED) throw new BtrfsProblem(`a compressed extent claims ${ramBytes} bytes decoded`);
  const out = Buffer.alloc(ramBytes);
  let n: number;
  switch (type) {
    case 1: {
      let decoded: Buffer;
      try {
        decoded = zlib.inflateSync(data, { maxOutputLength: ramBytes, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (err) {
        throw new BtrfsProblem(`a zlib extent does not decode (${(err as Error).message})`);
      }
      n = decoded.copy(out);
      break;
    }
    case 3: {
      zstd ??= (() => {
        const z = loadZstd();
        return { z, dctx: new z.DCtx() };
      })();
      try {
        const frame = data.subarray(0, zstd.z.findFrameCompressedSize(data));
        n = zstd.dctx.decompress(out, frame);
      } catch (err) {
        throw new BtrfsProblem(`a zstd extent does not decode (${(err as Error).message})`);
      }
      break;
    }
    case 2:
      n = decodeLzo(data, out);
      break;
    default:
      throw new Error(`its data is compressed with ${compressionName(type)}, which Imprint does not decode yet`);
  }
  if (n > ramBytes) throw new BtrfsProblem('a compressed extent decodes to more than it claims');
  return out;
}

/** btrfs writes LZO segments of at most a sector of data: 4 KiB on the machines that made them (a sector is the page size there). */
const LZO_SEGMENT_OUT = 4096;
const LZO_SECTOR = 4096;

function decodeLzo(data: Buffer, out: Buffer): number {
  if (data.length < 4) throw new BtrfsProblem('an LZO extent is truncated');
  const total = data.readUInt32LE(0);
  if (total < 4 || total > data.length) throw new BtrfsProblem(`an LZO extent claims ${total} bytes in ${data.length}`);
  let at = 4;
  let done = 0;
  while (at < total && done < out.length) {
    if (at + 4 > total) throw new BtrfsProblem('an LZO segment header is truncated');
    const length = data.readUInt32LE(at);
    at += 4;
    if (length === 0 || at + length > total) throw new BtrfsProblem(`an LZO segment of ${length} bytes runs past its extent`);
    try {
      done += lzo1xDecompress(data.subarray(at, at + length), out.subarray(done, Math.min(out.length, done + LZO_SEGMENT_OUT)));
    } catch (err) {
      if (err instanceof LzoError) throw new BtrfsProblem(`an LZO segment does not decode (${err.message})`);
      throw err;
    }
    at += length;
    // A segment's length is never split across sectors: fewer than 4 bytes left in this one are padding.
    const left = LZO_SECTOR - (at % LZO_SECTOR);
    if (left < 4) at += left;
  }
  return done;
}
