import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../errors';
import { readFully, writeFully } from '../io/full-io';
import type { ByteSource, ByteSourceOptions } from './byte-source-types';
import { openContent, type SourceInfo } from './image-source';

/**
 * A ByteSource over a format without an index (.gz, .bz2, .zip, plain .zst,
 * single-block .xz): the content is decoded from the start, once, into a
 * temporary file, and only as far as the furthest byte asked for; reads are
 * then served from that file. The temporary file is removed at once where
 * the OS allows an open file to be (it lives on through its descriptor), else on close.
 */
export class SequentialCacheSource implements ByteSource {
  readonly access = 'sequential' as const;
  private readonly dir: string;
  private readonly fd: number;
  private readonly pieces: AsyncGenerator<Buffer>;
  private decoded = 0;
  private ended = false;
  /** Decoding runs one step at a time; concurrent reads wait on the same chain. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly info: SourceInfo,
    readonly note: string,
    private readonly opts: ByteSourceOptions = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(opts.cacheDir ?? os.tmpdir(), 'imprint-browse-'));
    this.fd = fs.openSync(path.join(this.dir, 'content'), 'w+');
    // Where an open file can be unlinked, it goes now: a killed process leaves nothing behind.
    if (process.platform !== 'win32') fs.rmSync(this.dir, { recursive: true, force: true });
    this.pieces = openContent(info, { transient: true });
  }

  size(): number | null {
    return this.ended ? this.decoded : this.info.size;
  }

  async fullSize(): Promise<number> {
    await this.decodeTo(Number.MAX_SAFE_INTEGER);
    return this.decoded;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    await this.decodeTo(offset + length);
    const end = Math.min(this.decoded, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(end - offset);
    if (readFully(this.fd, buf, 0, buf.length, offset) !== buf.length) {
      throw new ImprintError('E_SOURCE_READ', `The temporary copy of ${this.info.path} in ${this.dir} ended early.`);
    }
    return buf;
  }

  private decodeTo(end: number): Promise<void> {
    const step = this.chain.then(async () => {
      while (!this.ended && this.decoded < end) {
        const next = await this.pieces.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        const piece = next.value;
        try {
          // Runs of zeros (free space in most images) stay holes in the temporary file.
          if (isZero(piece)) fs.ftruncateSync(this.fd, this.decoded + piece.length);
          else writeFully(this.fd, piece, this.decoded);
        } catch (err) {
          throw new ImprintError('E_WRITE', `Imprint could not keep the decoded content of ${this.info.path} in ${this.dir}: ${(err as Error).message}`, { cause: err });
        }
        this.decoded += piece.length;
        this.opts.onDecodeProgress?.(this.decoded, this.info.size ?? this.info.sizeEstimate);
      }
    });
    // A failed step fails every later read too (the decoder cannot resume).
    this.chain = step;
    return step;
  }

  async close(): Promise<void> {
    await this.pieces.return(undefined).catch(() => undefined);
    fs.closeSync(this.fd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const ZEROS = Buffer.alloc(1 << 20);

function isZero(b: Buffer): boolean {
  for (let at = 0; at < b.length; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - at);
    if (!b.subarray(at, at + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}
