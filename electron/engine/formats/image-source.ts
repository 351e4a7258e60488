import * as fs from 'fs';
import { ImprintError, errnoOf } from '../errors';
import { blockDeviceSize } from '../io/block-device';
import { readFully } from '../io/full-io';
import type { ContentOptions, DecoderChoice, ImageAbilities, ImageKind } from './image-kind';
import { kindForHead, kindNamed, type ImageFormat } from './image-kinds';
import type { ZipImageEntry } from './zip-entry';
import type { FeedSpec } from '../io/feed-ring';

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
  /** The decoders the caller chose (inspectSource's option); every reader of this source uses them. */
  decoders?: DecoderChoice;
  /** Set while the file is still being downloaded (io/growing-file.ts): its readers wait for its bytes. */
  growing?: SharedArrayBuffer;
  /** A raw image still downloading whose bytes from `feed.start` on come in shared memory, not from the file (io/feed-ring.ts). */
  feed?: FeedSpec;
}

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

/**
 * Opens, identifies and sizes an image (or a drive used as a source). Throws
 * refusals as ImprintError. `growing`: the file is still downloading (its
 * kind learns nothing from its end).
 */
export async function inspectSource(path: string, opts: { decoders?: DecoderChoice; growing?: boolean } = {}): Promise<SourceInfo> {
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
    const decoders = opts.decoders ? { decoders: opts.decoders } : {};
    if (isDevice) return { path, format: 'raw', fileSize, size: fileSize, sizeEstimate: null, isDevice, ...decoders };
    const head = Buffer.alloc(16);
    readFully(fd, head, 0, 16, 0);
    const kind = kindForHead(head);
    const facts = await kind.inspect(fd, { path, fileSize, ...(opts.growing ? { growing: true } : {}) });
    const info: SourceInfo = { path, format: kind.format, fileSize, size: facts.size, sizeEstimate: facts.sizeEstimate, isDevice, ...decoders };
    if (facts.zipEntry) info.zipEntry = facts.zipEntry;
    if (facts.minSize) info.minSize = facts.minSize;
    return info;
  } finally {
    fs.closeSync(fd);
  }
}

/** The image's kind (image-kinds.ts). */
export function kindOf(info: SourceInfo): ImageKind<ImageFormat> {
  return kindNamed(info.format);
}

/** What the image's kind can do with this image (ImageAbilities), with the decoders the caller chose. */
export function abilitiesOf(info: SourceInfo): ImageAbilities {
  return kindOf(info).abilities(info, info.decoders);
}

export function describeSource(info: SourceInfo): string {
  const label = kindOf(info).label;
  return info.zipEntry ? `${label} (${info.zipEntry.name})` : label;
}

/** A decoder's complaint as the user's error: E_CORRUPT_SOURCE naming the file. */
export function corrupt(info: SourceInfo, err: unknown): ImprintError {
  if (err instanceof ImprintError) {
    // A decoder that reports without the path (the .xz one): the user must still learn which file is bad.
    if (err.code !== 'E_CORRUPT_SOURCE' || err.message.includes(info.path)) return err;
    return new ImprintError(err.code, `${info.path}: ${err.message}`, { cause: err, ...(err.offset === undefined ? {} : { offset: err.offset }) });
  }
  const what = info.zipEntry ? `The zip archive` : `The ${kindOf(info).label} file`;
  // A JavaScript decoder (unbzip2-stream) that runs off the end of a truncated file throws a
  // TypeError ("Cannot read properties of undefined"): that says nothing to a person.
  const detail = err instanceof TypeError || err instanceof RangeError ? 'the decoder could not read it (it ends early or is damaged)' : (err as Error).message;
  return new ImprintError('E_CORRUPT_SOURCE', `${what} ${info.path} is truncated or corrupt: ${detail}`, { cause: err });
}

/**
 * The image's uncompressed content as a stream of Buffers, from its kind.
 * Decoder errors (truncated or corrupt input) come out as E_CORRUPT_SOURCE.
 * `onInput` counts compressed bytes read, for progress when the size is unknown.
 * `transient`: the caller copies each piece before asking for the next, so a
 * decoder may reuse the memory (the in-process .xz decoder does: 570 -> 400
 * MiB peak RSS on a 1 GiB image). Callers that keep pieces leave it out.
 */
export async function* openContent(info: SourceInfo, opts: Omit<ContentOptions, 'decoders'> = {}): AsyncGenerator<Buffer> {
  try {
    yield* kindOf(info).openStream(info, { ...opts, decoders: info.decoders });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw corrupt(info, err);
  }
}
