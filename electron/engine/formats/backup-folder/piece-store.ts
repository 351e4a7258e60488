import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError } from '../../errors';
import { readFully } from '../../io/full-io';
import { fsyncFolder, piecePath, writeFileAtomic, PIECES_DIR } from './folder-layout';

/**
 * The pieces of a backup folder: each one zstd frame (content size and
 * checksum in it, so `zstd -d` reads it), stored under the SHA-256 of its
 * uncompressed content. A piece appears under its name only complete and
 * durable (writeFileAtomic); the folders holding new names are fsynced
 * before any index names them (`syncNewNames`).
 */

function loadBinding(): typeof ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
  return require('zstd-napi/binding') as typeof ZstdBinding;
}

const ZSTD_MAGIC = 0xfd2fb528;

export function sha256Hex(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export class PieceWriter {
  private readonly z = loadBinding();
  private readonly cctx = new this.z.CCtx();
  private out: Buffer = Buffer.alloc(0);
  /** Fan-out folders that got new names since the last syncNewNames. */
  private readonly dirty = new Set<string>();

  constructor(
    private readonly folder: string,
    level: number,
  ) {
    this.cctx.setParameter(this.z.CParameter.compressionLevel, level);
    this.cctx.setParameter(this.z.CParameter.checksumFlag, 1);
    this.cctx.setParameter(this.z.CParameter.contentSizeFlag, 1);
  }

  /** Whether the folder already holds a piece with this content hash. */
  has(hash: string): boolean {
    return fs.existsSync(piecePath(this.folder, hash));
  }

  /** Compresses and stores `data` under `hash` (its SHA-256); returns the bytes it takes in the folder. */
  write(hash: string, data: Uint8Array): number {
    const bound = this.z.compressBound(data.length);
    if (this.out.length < bound) this.out = Buffer.allocUnsafe(bound);
    const frame = this.out.subarray(0, this.cctx.compress2(this.out, data));
    const file = piecePath(this.folder, hash);
    const dir = path.dirname(file);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir);
      this.dirty.add(path.join(this.folder, PIECES_DIR));
    }
    writeFileAtomic(this.folder, file, frame, { syncDir: false });
    this.dirty.add(dir);
    return frame.length;
  }

  /** Makes every name written so far durable: called before an index that names them is written. */
  syncNewNames(): void {
    for (const d of this.dirty) fsyncFolder(d);
    this.dirty.clear();
  }
}

/** What a piece's check found: its content, or why it cannot be used. */
export type PieceRead = { ok: true; data: Buffer; storedBytes: number } | { ok: false; problem: 'missing' | 'damaged'; detail: string };

export class PieceReader {
  private readonly z = loadBinding();
  private readonly dctx = new this.z.DCtx();

  constructor(private readonly folder: string) {}

  /**
   * Reads the piece `hash` that must hold `length` bytes. The file is
   * untrusted: its size is bounded before it is read, the frame must declare
   * exactly `length` bytes and decode to them, and the content must have the
   * SHA-256 it is named by.
   */
  read(hash: string, length: number, into?: Buffer): PieceRead {
    const file = piecePath(this.folder, hash);
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY);
    } catch {
      return { ok: false, problem: 'missing', detail: `piece ${hash} is missing` };
    }
    try {
      const size = fs.fstatSync(fd).size;
      // A zstd frame of `length` bytes is never larger than compressBound(length).
      if (size < 8 || size > this.z.compressBound(length)) return { ok: false, problem: 'damaged', detail: `piece ${hash} is ${size} bytes, impossible for ${length} bytes of data` };
      const src = Buffer.allocUnsafe(size);
      if (readFully(fd, src, 0, size, 0) !== size) return { ok: false, problem: 'damaged', detail: `piece ${hash} ends early` };
      if (src.readUInt32LE(0) !== ZSTD_MAGIC) return { ok: false, problem: 'damaged', detail: `piece ${hash} is not a zstd frame` };
      let declared: number | null;
      try {
        declared = this.z.getFrameContentSize(src);
      } catch {
        declared = null;
      }
      if (declared !== length) return { ok: false, problem: 'damaged', detail: `piece ${hash} declares ${declared ?? 'no'} bytes, not ${length}` };
      const out = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      let n: number;
      try {
        n = this.dctx.decompress(out, src);
      } catch (err) {
        return { ok: false, problem: 'damaged', detail: `piece ${hash} does not decode (${(err as Error).message})` };
      }
      if (n !== length) return { ok: false, problem: 'damaged', detail: `piece ${hash} decodes to ${n} bytes, not ${length}` };
      if (sha256Hex(out) !== hash) return { ok: false, problem: 'damaged', detail: `piece ${hash} does not hold the data it is named by (SHA-256 differs)` };
      return { ok: true, data: out, storedBytes: size };
    } catch (err) {
      if (err instanceof ImprintError) throw err;
      return { ok: false, problem: 'damaged', detail: `piece ${hash} cannot be read (${(err as Error).message})` };
    } finally {
      fs.closeSync(fd);
    }
  }
}
