import * as zlib from 'zlib';
import type * as ZstdBinding from 'zstd-napi/binding';
import { BtrfsProblem } from './btrfs-superblock';

/**
 * Decoding a compressed btrfs extent (btrfs_file_extent_item.compression):
 * 1 zlib (one zlib stream), 3 zstd (one zstd frame), each followed by
 * zeros up to the sector; `ramBytes` is what the extent holds decoded. LZO
 * (2) is btrfs's own framing of LZO1X segments, which Imprint does not
 * decode yet: such a file is reported, not guessed at.
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
    default:
      throw new Error(`its data is compressed with ${compressionName(type)}, which Imprint does not decode yet`);
  }
  if (n > ramBytes) throw new BtrfsProblem('a compressed extent decodes to more than it claims');
  return out;
}
