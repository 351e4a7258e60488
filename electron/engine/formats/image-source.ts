import * as fs from 'fs';
import * as zlib from 'zlib';
import { PassThrough, pipeline, type Transform } from 'stream';
import { ImprintError, errnoOf } from '../errors';
import { blockDeviceSize } from '../io/block-device';
import { readFully } from '../io/full-io';
import { detectFormat, FORMAT_LABELS, type ImageFormat } from './detect-format';
import { readZstdLayout } from './zstd-frames';
import { readEmbeddedMetadata } from './backup-metadata';
import { createBuiltinBzip2Decoder, nativeBzip2 } from './bzip2-decoder';
import { decodeZstd } from './zstd-decoder';
import { findZipImage, type ZipImageEntry } from './zip-entry';
import { decodeWithProgram } from './native-decoder';
import { nativeXz, nativeXzArgs } from './xz-decoder';
import { decodeXzParallel, xzUncompressedSize } from './xz-parallel-decoder';

/** What Imprint knows about an image before reading it through. */
export interface SourceInfo {
  path: string;
  format: ImageFormat;
  /** Bytes of the file as stored (compressed size), or the device size. */
  fileSize: number;
  /** Uncompressed size when the format states it exactly, else null. */
  size: number | null;
  /** A hint for progress when `size` is null (gzip's ISIZE), else null. */
  sizeEstimate: number | null;
  /**
   * When `size` is null: bytes the content is known to reach at least (gzip's
   * ISIZE: the last member's size mod 2^32, so never more than the whole), to
   * refuse a drive too small for it before writing. Absent or null: no bound.
   */
  minSize?: number | null;
  /** The source is a block device (clone, backup, hash of a drive). */
  isDevice: boolean;
  zipEntry?: ZipImageEntry;
}

/** Large decompression chunks: Node's zlib runs 3x faster with 1 MiB than its 16 KiB default (FIELD-NOTES). */
export const INFLATE_CHUNK = 1 << 20;

function openError(path: string, err: unknown): ImprintError {
  switch (errnoOf(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new ImprintError('E_SOURCE_NOT_FOUND', `${path} does not exist. Check the path.`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new ImprintError('E_SOURCE_UNREADABLE', `${path} cannot be read: permission denied.`, { cause: err });
    case 'EISDIR':
      return new ImprintError('E_SOURCE_IS_DIRECTORY', `${path} is a folder, not an image file.`, { cause: err });
    default:
      return new ImprintError('E_SOURCE_UNREADABLE', `${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Opens, identifies and sizes an image (or a drive used as a source). Throws refusals as ImprintError. */
export async function inspectSource(path: string): Promise<SourceInfo> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    throw openError(path, err);
  }
  if (stat.isDirectory()) throw new ImprintError('E_SOURCE_IS_DIRECTORY', `${path} is a folder, not an image file.`);
  const isDevice = stat.isBlockDevice();
  if (!isDevice && !stat.isFile()) throw new ImprintError('E_SOURCE_UNREADABLE', `${path} is neither a file nor a drive.`);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw openError(path, err);
  }
  try {
    const fileSize = isDevice ? blockDeviceSize(path) : stat.size;
    if (fileSize === 0) {
      throw new ImprintError('E_SOURCE_EMPTY', isDevice ? `${path} reports a size of 0: no medium?` : `${path} is empty (0 bytes): the download or copy may have failed.`);
    }
    if (isDevice) return { path, format: 'raw', fileSize, size: fileSize, sizeEstimate: null, isDevice };
    const head = Buffer.alloc(16);
    readFully(fd, head, 0, 16, 0);
    const format = detectFormat(head);
    const info: SourceInfo = { path, format, fileSize, size: null, sizeEstimate: null, isDevice };
    switch (format) {
      case 'raw':
        info.size = fileSize;
        break;
      case 'gzip': {
        // ISIZE is the size mod 2^32 of the last member only: a hint, never a promise.
        const tail = Buffer.alloc(4);
        if (fileSize >= 18 && readFully(fd, tail, 0, 4, fileSize - 4) === 4) {
          const isize = tail.readUInt32LE(0);
          if (isize > fileSize) info.sizeEstimate = isize;
          if (isize > 0) info.minSize = isize;
        }
        break;
      }
      case 'zstd':
        // An Imprint backup's data frames do not declare their sizes (they are
        // written as the drive is read); its metadata frame records the drive's.
        info.size = readZstdLayout(path)?.contentSize ?? readEmbeddedMetadata(path)?.size ?? null;
        break;
      case 'xz':
        info.size = await xzUncompressedSize(path);
        break;
      case 'zip': {
        info.zipEntry = await findZipImage(path);
        info.size = info.zipEntry.uncompressedSize;
        break;
      }
      case 'bzip2':
        break;
    }
    return info;
  } finally {
    fs.closeSync(fd);
  }
}

export function describeSource(info: SourceInfo): string {
  return info.zipEntry ? `${FORMAT_LABELS.zip} (${info.zipEntry.name})` : FORMAT_LABELS[info.format];
}

/** A decoder's complaint as the user's error: E_CORRUPT_SOURCE naming the file. */
export function corrupt(info: SourceInfo, err: unknown): ImprintError {
  if (err instanceof ImprintError) {
    // A decoder that reports without the path (the .xz one): the user must still learn which file is bad.
    if (err.code !== 'E_CORRUPT_SOURCE' || err.message.includes(info.path)) return err;
    return new ImprintError(err.code, `${info.path}: ${err.message}`, { cause: err, ...(err.offset === undefined ? {} : { offset: err.offset }) });
  }
  const what = info.zipEntry ? `The zip archive` : `The ${FORMAT_LABELS[info.format]} file`;
  // A JavaScript decoder (unbzip2-stream) that runs off the end of a truncated file throws a
  // TypeError ("Cannot read properties of undefined"): that says nothing to a person.
  const detail = err instanceof TypeError || err instanceof RangeError ? 'the decoder could not read it (it ends early or is damaged)' : (err as Error).message;
  return new ImprintError('E_CORRUPT_SOURCE', `${what} ${info.path} is truncated or corrupt: ${detail}`, { cause: err });
}

/**
 * The image's uncompressed content as a stream of Buffers. Decoder errors
 * (truncated or corrupt input) come out as E_CORRUPT_SOURCE.
 * `onInput` counts compressed bytes read, for progress when the size is unknown.
 * `transient`: the caller copies each piece before asking for the next, so a
 * decoder may reuse the memory (the in-process .xz decoder does: 570 -> 400
 * MiB peak RSS on a 1 GiB image). Callers that keep pieces leave it out.
 */
export async function* openContent(
  info: SourceInfo,
  opts: { signal?: AbortSignal; onInput?: (bytes: number) => void; transient?: boolean } = {},
): AsyncGenerator<Buffer> {
  const { signal, onInput } = opts;
  if (info.format === 'zstd') {
    try {
      for await (const chunk of decodeZstd(info.path, { signal, onInput })) yield chunk;
    } catch (err) {
      if (signal?.aborted) throw err;
      throw corrupt(info, err);
    }
    return;
  }
  const program = nativeProgram(info);
  if (program) {
    try {
      for await (const chunk of decodeWithProgram(program.path, program.args, info.path, { signal, onInput })) yield chunk;
    } catch (err) {
      if (signal?.aborted) throw err;
      throw corrupt(info, err);
    }
    return;
  }
  if (info.format === 'xz') {
    try {
      for await (const chunk of decodeXzParallel(info.path, { signal, transient: opts.transient === true })) yield chunk;
    } catch (err) {
      throw corrupt(info, err);
    }
    return;
  }
  const start = info.zipEntry?.dataOffset ?? 0;
  const end = info.zipEntry ? start + info.zipEntry.compressedSize - 1 : undefined;
  const file = fs.createReadStream(info.path, { start, end, highWaterMark: INFLATE_CHUNK, signal });
  if (onInput) file.on('data', (c) => onInput(c.length));
  const decoder = makeDecoder(info);
  // pipeline() forwards errors and tears every stage down; the PassThrough
  // gives one async-iterable end even for old-style decoders (unbzip2-stream).
  const out = new PassThrough({ highWaterMark: INFLATE_CHUNK });
  // pipeline() destroys every stage, `out` included, with the first error, so
  // iterating `out` throws it. (No Promise.race against a long-lived promise
  // here: each race leaves a reaction holding its chunk, and memory grows with
  // the image.)
  let pipelineError: unknown = null;
  const finished = new Promise<void>((resolve) => {
    const stages: NodeJS.ReadableStream[] = decoder ? [file, decoder as NodeJS.ReadableStream] : [file];
    pipeline([...stages, out] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) => {
      pipelineError = err ?? null;
      resolve();
    });
  });
  let total = 0;
  let crc = 0;
  const checkZip = info.zipEntry !== undefined;
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (checkZip) crc = zlib.crc32(chunk, crc);
      yield chunk;
    }
    await finished;
    if (pipelineError) throw pipelineError;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw corrupt(info, err);
  } finally {
    file.destroy();
    out.destroy();
  }
  if (info.zipEntry) {
    if (total !== info.zipEntry.uncompressedSize) throw corrupt(info, new Error(`expected ${info.zipEntry.uncompressedSize} bytes, got ${total}`));
    if (crc >>> 0 !== info.zipEntry.crc32 >>> 0) throw corrupt(info, new Error('CRC-32 of the extracted image does not match the archive'));
  }
}

/** The decoder program found on the system for this format (bzip2-decoder.ts, xz-decoder.ts say when), if any. */
export function nativeProgram(info: SourceInfo): { path: string; args: string[] } | null {
  if (info.format === 'xz') {
    const xz = nativeXz();
    return xz ? { path: xz, args: nativeXzArgs() } : null;
  }
  if (info.format === 'bzip2') {
    const bzip2 = nativeBzip2();
    return bzip2 ? { path: bzip2, args: ['-d', '-c'] } : null;
  }
  return null;
}

function makeDecoder(info: SourceInfo): Transform | null {
  switch (info.format) {
    case 'raw':
      return null;
    case 'gzip':
      return zlib.createGunzip({ chunkSize: INFLATE_CHUNK });
    case 'zstd':
      throw new Error('zstd is decoded by decodeZstd');
    case 'bzip2':
      return createBuiltinBzip2Decoder();
    case 'zip':
      return info.zipEntry?.method === 0 ? null : zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK });
    case 'xz':
      throw new Error('xz is decoded by the xz program or decodeXzParallel');
  }
}
