import type { ZipImageEntry } from './zip-entry';

/**
 * What every kind of image (raw, gzip, xz, zstd, bzip2, zip...) is to the
 * rest of the engine: one object that recognises the kind by its first bytes,
 * reads what it can learn up front, says what it can do, and opens its
 * content. The kinds are listed once, in image-kinds.ts; nothing else in the
 * engine asks which kind an image is to decide how to read it.
 */

/** An image file as its kind sees it (image-source.ts's SourceInfo has all of this). */
export interface ImageFile {
  path: string;
  /** Bytes of the file as stored. */
  fileSize: number;
  /** Uncompressed size when the kind states it exactly, else null. */
  size: number | null;
  /** The image inside a zip archive (zip only). */
  zipEntry?: ZipImageEntry;
}

/** What a kind learns from the file before decoding it. */
export interface ImageFacts {
  /** Uncompressed size when the format states it exactly, else null. */
  size: number | null;
  /** A hint for progress when `size` is null (gzip's ISIZE), else null. */
  sizeEstimate: number | null;
  /** A lower bound on the content's size where the format records one (gzip's ISIZE), else absent. */
  minSize?: number | null;
  zipEntry?: ZipImageEntry;
}

/** What a kind can do with a given file (some answers depend on the file, or on what is installed). */
export interface ImageAbilities {
  /** The content's size before it is read through: stated exactly, estimated (for progress), or unknown. */
  size: 'exact' | 'estimate' | 'unknown';
  /** Any byte of the content can be read at its own offset, without decoding what comes before. */
  randomAccess: boolean;
  /**
   * How the content reaches the write ring: read straight into its slots
   * (no decoding), decoded straight into its slots, or streamed in pieces
   * that are copied in.
   */
  intoRing: 'read' | 'decode' | 'stream';
  /** The system program that decodes it (a path), or null when the decoding is done in this process. */
  systemProgram: string | null;
}

/** Which decoder to use where there is a choice (the CLI and the service read it from the environment). */
export interface DecoderChoice {
  /** 'builtin': the in-process .xz decoder even where a system xz (liblzma >= 5.4) exists. */
  xz?: 'auto' | 'builtin';
  /** 'builtin': the JavaScript bzip2 decoder even where lbzip2, pbzip2 or bzip2 exist. */
  bzip2?: 'auto' | 'builtin';
}

export interface ContentOptions {
  signal?: AbortSignal;
  /** Compressed bytes read, for progress when the size is unknown. */
  onInput?: (bytes: number) => void;
  /**
   * The caller copies each piece before asking for the next, so a decoder may
   * reuse the memory (the in-process .xz decoder does).
   */
  transient?: boolean;
  decoders?: DecoderChoice;
}

/** Fills the caller's memory (a ring slot) with decoded bytes, fewer only at the end; 0 means the end. */
export interface SlotReader {
  read(dst: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface ImageKind<F extends string = string> {
  /** The name Imprint uses for the kind (in SourceInfo, events and metadata). */
  readonly format: F;
  /** The kind in a person's words ("zip archive"). */
  readonly label: string;
  /** Whether content starting with `head` is of this kind (`head` holds the file's first 16 bytes, or all of a shorter file). Magic bytes, never a file name. */
  matches(head: Uint8Array): boolean;
  /**
   * Sizes and the like, read from the open file `fd` before any decoding.
   * `growing`: the file is still downloading and only its start is there
   * (the rest reads as zeros): nothing may be learnt from its end.
   */
  inspect(fd: number, file: { path: string; fileSize: number; growing?: boolean }): Promise<ImageFacts>;
  abilities(file: ImageFile, decoders?: DecoderChoice): ImageAbilities;
  /** A reader that decodes into the caller's memory, when abilities().intoRing is 'decode' and it can start; else null (the caller streams). */
  openSlotReader(file: ImageFile, opts: ContentOptions): SlotReader | null;
  /** The content as a stream of pieces. Errors are the decoder's own; openContent (image-source.ts) words them for the user. */
  openStream(file: ImageFile, opts: ContentOptions): AsyncIterable<Buffer>;
}

/** Declares a kind, keeping its `format` as a literal type (so the list of kinds defines ImageFormat). */
export function defineImageKind<const F extends string>(kind: ImageKind<F>): ImageKind<F> {
  return kind;
}

/** Whether `head` starts with `magic`. */
export function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** Large decompression chunks: Node's zlib runs 3x faster with 1 MiB than its 16 KiB default (docs/block-io.md). */
export const INFLATE_CHUNK = 1 << 20;
