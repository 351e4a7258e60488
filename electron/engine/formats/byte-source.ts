import * as fs from 'fs';
import { ImprintError } from '../errors';
import { allocAligned, alignDown, alignUp } from '../io/aligned-buffer';
import { readFully } from '../io/full-io';
import { parseFolderRef } from './backup-folder/folder-ref';
import { describeSource, inspectSource, type SourceInfo } from './image-source';
import { SequentialCacheSource } from './sequential-cache-source';
import { openXzBlockSource } from './xz-block-source';
import { SeekableZstdReader } from './zstd-seekable-reader';

/**
 * Random access to the uncompressed content of any image Imprint reads, so
 * that a filesystem inside it can be browsed without restoring it. Each kind
 * reads only what it must: a raw image or drive directly, a seekable .zst
 * through its seek table, a multi-block .xz block by block through its
 * index; formats without an index (.gz, .bz2, .zip, plain .zst, single-block
 * .xz) are decoded from the start into a temporary file, as far as needed;
 * a backup folder's generation (FOLDER#GEN) piece by piece through its index.
 * Never opens the source for writing.
 */
import type { ByteSource, ByteSourceOptions } from './byte-source-types';
export type { ByteSource, ByteSourceOptions } from './byte-source-types';

/** Opens `path` (an image, a backup, a backup folder's FOLDER#GEN or a drive) for random access. */
export async function openByteSource(path: string, opts: ByteSourceOptions = {}): Promise<ByteSource> {
  if (parseFolderRef(path)) {
    // Required here: a folder's reading code is not loaded for the images and drives most sources are.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { holdFolderRef } = require('./backup-folder/folder-readers') as typeof import('./backup-folder/folder-readers');
    const { openGenerationSource } = require('./backup-folder/generation-byte-source') as typeof import('./backup-folder/generation-byte-source');
    /* eslint-enable @typescript-eslint/no-require-imports */
    // Registered as a reader until closed, so no prune deletes a piece under it (folder-readers.ts).
    const { folder, index, keys, hold } = holdFolderRef(path, (f) => `browsing ${f}`, opts.passphrase);
    try {
      const source = openGenerationSource(folder, index, keys);
      const close = source.close.bind(source);
      source.close = async () => {
        try {
          await close();
        } finally {
          hold.release();
        }
      };
      return source;
    } catch (err) {
      hold.release();
      throw err;
    }
  }
  const info = await inspectSource(path);
  if (info.format === 'raw') return openDirect(info);
  if (info.format === 'zstd') {
    const fd = fs.openSync(path, 'r');
    let reader: SeekableZstdReader | null = null;
    try {
      reader = SeekableZstdReader.tryOpen(fd, info.fileSize, { file: path });
    } finally {
      if (!reader) fs.closeSync(fd);
    }
    if (reader) return seekableSource(info, fd, reader);
  }
  if (info.format === 'xz') {
    const xz = await openXzBlockSource(info);
    if (xz.source) return xz.source;
    return new SequentialCacheSource(info, xz.whyNot, opts);
  }
  const what = info.format === 'zstd' ? 'a .zst without a seek table' : `a ${describeSource(info)} file`;
  return new SequentialCacheSource(info, `${what} has no index: reading from the start`, opts);
}

/** A raw image or a drive: reads go straight to the file. Drives are read with O_DIRECT, as every read of a source drive is. */
function openDirect(info: SourceInfo): ByteSource {
  const fd = fs.openSync(info.path, info.isDevice ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : fs.constants.O_RDONLY);
  const size = info.fileSize;
  return {
    info,
    access: 'direct',
    note: null,
    size: () => size,
    fullSize: async () => size,
    async read(offset, length) {
      const end = Math.min(size, offset + length);
      if (offset >= end) return Buffer.alloc(0);
      try {
        if (!info.isDevice) {
          const buf = Buffer.allocUnsafe(end - offset);
          return buf.subarray(0, readFully(fd, buf, 0, buf.length, offset));
        }
        const from = alignDown(offset);
        const to = Math.min(alignUp(end), alignUp(size));
        const buf = allocAligned(to - from);
        const n = readFully(fd, buf, 0, to - from, from);
        return Buffer.from(buf.subarray(offset - from, Math.max(offset - from, Math.min(n, end - from))));
      } catch (err) {
        throw new ImprintError('E_SOURCE_READ', `${info.path} could not be read at byte ${offset}: ${(err as Error).message}`, { cause: err, offset });
      }
    },
    async close() {
      fs.closeSync(fd);
    },
  };
}

function seekableSource(info: SourceInfo, fd: number, reader: SeekableZstdReader): ByteSource {
  return {
    info,
    access: 'seek-table',
    seekable: { file: info.path, reader },
    note: null,
    size: () => reader.size,
    fullSize: async () => reader.size,
    read: async (offset, length) => reader.read(offset, Math.max(0, Math.min(length, reader.size - offset))),
    async close() {
      fs.closeSync(fd);
    },
  };
}
