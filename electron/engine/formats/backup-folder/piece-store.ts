import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError } from '../../errors';
import { writeFully } from '../../io/full-io';
import { syncFiles } from '../../io/sync-filesystem';
import { SEALED_PIECE_OVERHEAD, type FolderKeys } from './folder-crypto';
import { AllocationSample } from './piece-allocation';
import { fsyncFolder, piecePath, piecePathIn, PIECES_DIR, TMP_DIR } from './folder-layout';

/**
 * The pieces of a backup folder: each one zstd frame (content size and
 * checksum in it, so `zstd -d` reads it), stored under the SHA-256 of its
 * uncompressed content. A piece appears under its name only complete and
 * durable, and the folders holding new names are fsynced before any index
 * names them (PieceWriter.commit). In an encrypted folder (`keys` given) the
 * name is a keyed hash of the content and the frame is sealed with
 * AES-256-GCM (folder-crypto.ts); nothing else changes.
 */

function loadBinding(): typeof ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
  return require('zstd-napi/binding') as typeof ZstdBinding;
}

const ZSTD_MAGIC = 0xfd2fb528;

/** One call, no Hash object per piece (a restore names about 12,000 pieces per GB). */
export function sha256Hex(data: Uint8Array): string {
  return crypto.hash('sha256', data, 'hex');
}

/**
 * New pieces written to tmp/ before they are made durable and renamed into
 * place together. The byte bound is the one that usually ends a batch: each
 * commit is a syncfs and an fsync of up to 256 folders, and with 64 KiB
 * pieces a bound of 512 pieces made that 4 times as often as with 256 KiB
 * (storing 256 MiB: commits took 2.6-3.0 s at 512 pieces a batch, 0.4 s here).
 */
const BATCH_PIECES = 8192;
const BATCH_BYTES = 128 << 20;

export class PieceWriter {
  private readonly z = loadBinding();
  private readonly cctx = new this.z.CCtx();
  private out: Buffer = Buffer.alloc(0);
  /** Pieces written to tmp/, not yet under their names. */
  private pending = new Map<string, { tmp: string; size: number }>();
  private pendingBytes = 0;
  /** What the first pieces given their names take on the folder's disk (piece-allocation.ts). */
  readonly allocation = new AllocationSample();

  constructor(
    private readonly folder: string,
    level: number,
    private readonly keys: FolderKeys | null = null,
  ) {
    this.cctx.setParameter(this.z.CParameter.compressionLevel, level);
    this.cctx.setParameter(this.z.CParameter.checksumFlag, 1);
    this.cctx.setParameter(this.z.CParameter.contentSizeFlag, 1);
  }

  /** The name a piece with this content has in this folder: its SHA-256, or in an encrypted folder its keyed hash. */
  nameOf(data: Uint8Array): string {
    return this.keys ? this.keys.pieceName(data) : sha256Hex(data);
  }

  /** Whether the folder already holds a piece with this name (or this writer has one on the way). */
  has(hash: string): boolean {
    return this.pending.has(hash) || fs.existsSync(piecePath(this.folder, hash, this.keys !== null));
  }

  /**
   * Compresses `data` (sealing it in an encrypted folder) and writes it to
   * tmp/; it gets its name `hash` (nameOf(data)) at the next commit.
   * Returns the bytes it takes in the folder.
   */
  write(hash: string, data: Uint8Array): number {
    const bound = this.z.compressBound(data.length);
    if (this.out.length < bound) this.out = Buffer.allocUnsafe(bound);
    const compressed = this.out.subarray(0, this.cctx.compress2(this.out, data));
    const frame = this.keys ? this.keys.sealPiece(hash, data.length, compressed) : compressed;
    const tmp = path.join(this.folder, TMP_DIR, `${hash}.${process.pid}`);
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    try {
      writeFully(fd, frame, 0);
    } finally {
      fs.closeSync(fd);
    }
    this.pending.set(hash, { tmp, size: frame.length });
    this.pendingBytes += frame.length;
    if (this.pending.size >= BATCH_PIECES || this.pendingBytes >= BATCH_BYTES) this.commit();
    return frame.length;
  }

  /**
   * Makes the pieces written so far durable, then gives them their names,
   * then makes the names durable: a name never appears before its content
   * is on disk (a later backup trusts a piece it finds), and every name an
   * index will list is durable before that index is written.
   */
  commit(): void {
    if (this.pending.size === 0) return;
    syncFiles(path.join(this.folder, TMP_DIR), [...this.pending.values()].map((p) => p.tmp));
    const dirty = new Set<string>();
    for (const [hash, { tmp }] of this.pending) {
      const file = piecePath(this.folder, hash, this.keys !== null);
      const dir = path.dirname(file);
      if (!dirty.has(dir) && !fs.existsSync(dir)) {
        fs.mkdirSync(dir);
        dirty.add(path.join(this.folder, PIECES_DIR));
      }
      fs.renameSync(tmp, file);
      dirty.add(dir);
      // After the syncfs above: filesystems that allocate at write-back (ext4) have allocated by now.
      if (!this.allocation.full) this.allocation.measure(file);
    }
    for (const { size } of this.pending.values()) this.allocation.count(size);
    for (const d of dirty) fsyncFolder(d);
    this.pending.clear();
    this.pendingBytes = 0;
  }
}

/** What a piece's check found: its content, or why it cannot be used. */
export type PieceRead =
  /** `frame`: the piece's zstd frame (unsealed), valid until the next read. */
  | { ok: true; data: Buffer; storedBytes: number; frame: Buffer }
  | { ok: false; problem: 'missing' | 'damaged'; detail: string };

/**
 * libzstd's ZSTD_d_forceIgnoreChecksum (ZSTD_d_experimentalParam3 in zstd.h,
 * since zstd 1.4.7; zstd-napi bundles its own libzstd, so the number cannot
 * change under us unnoticed: backup-folder.test.ts reads a piece whose
 * frame checksum is wrong).
 */
const ZSTD_D_FORCE_IGNORE_CHECKSUM = 1002;

/**
 * Piece files readAhead() has on their way from the disk at once: reading
 * the bench drive's folder (11,714 files), its pages dropped, took 1.5 s one
 * after the other and 1.0 s eight at a time (disk-bound; 16 took as long).
 */
export const AHEAD = 8;

export class PieceReader {
  private readonly z = loadBinding();
  private readonly dctx = PieceReader.decoder(this.z);

  /**
   * A decoder that does not verify the frame's own checksum (XXH64 of the
   * content): every piece read here is checked against its name right
   * after, the SHA-256 (or keyed hash) of the content, which the XXH64 adds
   * nothing to. It cost a folder restore about 0.1 CPU-s per GB (perf:
   * ZSTD_XXH64_update, 3.4% of the bench restore's samples). The frames
   * keep their checksum, for `zstd -d` and for anything else that reads them.
   */
  private static decoder(z: typeof ZstdBinding): ZstdBinding.DCtx {
    const dctx = new z.DCtx();
    dctx.setParameter(ZSTD_D_FORCE_IGNORE_CHECKSUM as ZstdBinding.DParameter, 1);
    return dctx;
  }
  /** The compressed piece, reused: a fresh buffer per piece cost a restore's threads page faults and GC on every read. */
  private src = Buffer.alloc(0);

  /** Whether O_NOATIME is refused (it needs the file's owner or CAP_FOWNER); then pieces are opened without it. */
  private noAtime = true;
  private readonly piecesDir: string;
  /** The buffers of readAhead(), one per read on its way. */
  private readonly aheadBufs: Buffer[] = [];

  constructor(
    folder: string,
    private readonly keys: FolderKeys | null = null,
  ) {
    this.piecesDir = path.join(folder, PIECES_DIR);
  }

  /** Opens a piece without updating its access time: a read is then no inode write (relatime still writes the first one after each change). */
  private open(file: string): number {
    if (this.noAtime) {
      try {
        return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOATIME);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
        this.noAtime = false;
      }
    }
    return fs.openSync(file, fs.constants.O_RDONLY);
  }

  /** Bytes to read of a piece that must hold `length` bytes: its largest possible file, and one more to tell a larger one. */
  readLength(length: number): number {
    return this.z.compressBound(length) + (this.keys ? SEALED_PIECE_OVERHEAD : 0) + 1;
  }

  /**
   * Reads the piece `hash` that must hold `length` bytes. The file is
   * untrusted: its size is bounded before it is read, the frame must declare
   * exactly `length` bytes and decode to them, and the content must have the
   * SHA-256 it is named by. In an encrypted folder the file must first
   * authenticate as the piece of that name and length, and the content must
   * have that keyed hash.
   */
  read(hash: string, length: number, into?: Buffer): PieceRead {
    const got = this.readFile(hash, length);
    return 'problem' in got ? got : this.check(hash, length, got, into);
  }

  /**
   * The bytes of the piece's file, in a buffer this reader reuses (valid
   * until its next read). A zstd frame of `length` bytes is never larger than
   * compressBound(length), so one read of a byte more than that gives the
   * size without an fstat (a restore opens about 12,000 pieces per GB): a
   * regular file reads short only at its end, and a byte past the bound
   * means too large (check() refuses it).
   */
  readFile(hash: string, length: number): Buffer | PieceProblem {
    let fd: number;
    try {
      fd = this.open(piecePathIn(this.piecesDir, hash, this.keys !== null));
    } catch {
      return missing(hash);
    }
    try {
      const want = this.readLength(length);
      if (this.src.length < want) this.src = Buffer.allocUnsafe(Math.max(want, 512 << 10));
      return this.src.subarray(0, fs.readSync(fd, this.src, 0, want, 0));
    } catch (err) {
      return unreadable(hash, err);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Reads the files of pieces [from, to) of a caller's list, AHEAD at once
   * on libuv's threads, in this reader's own buffers (one such read at a
   * time per reader). `piece(i)` names piece i, or gives null when the
   * caller has it already (nothing is read); `onFile(i, file)` gets each file
   * as it arrives (a view valid during the call) or its problem. Either may
   * throw to stop the reads; `done` hears the first error, or null, once
   * nothing is on its way any more, so no read lands in a buffer after it.
   */
  readAhead(from: number, to: number, piece: (i: number) => { hash: string; length: number } | null, onFile: (i: number, file: Buffer | PieceProblem) => void, done: (err: unknown) => void): void {
    let next = from;
    let reading = 0;
    let error: unknown = null;
    let ended = false;
    const end = (): void => {
      if (ended || reading > 0 || (error === null && next < to)) return;
      ended = true;
      done(error);
    };
    /** Starts the next read in `slot`, whose buffer is free. */
    const run = (slot: number): void => {
      while (error === null && next < to) {
        const i = next++;
        let p: { hash: string; length: number } | null;
        try {
          p = piece(i);
        } catch (err) {
          error = err;
          break;
        }
        if (p === null) continue;
        reading++;
        this.readFileAhead(p.hash, p.length, this.slotBuffer(this.aheadBufs, slot, p.length), (file) => {
          reading--;
          if (error === null) {
            try {
              onFile(i, file);
            } catch (err) {
              error = err;
            }
          }
          run(slot);
        });
        return;
      }
      end();
    };
    for (let slot = 0; slot < AHEAD; slot++) run(slot);
  }

  /** Buffer `slot` of `bufs` (one per read on its way), made large enough for the file of a piece of `length` bytes. */
  slotBuffer(bufs: Buffer[], slot: number, length: number): Buffer {
    const need = this.readLength(length);
    const have = bufs[slot];
    return have && have.length >= need ? have : (bufs[slot] = Buffer.allocUnsafe(Math.max(need, 128 << 10)));
  }

  /**
   * readFile() on libuv's threads, into `buf` (at least readLength(length)
   * bytes), so that several pieces can be on their way from the disk at once:
   * `done` gets the file's bytes (a view of `buf`) or the problem.
   */
  readFileAhead(hash: string, length: number, buf: Buffer, done: (got: Buffer | PieceProblem) => void): void {
    const flags = fs.constants.O_RDONLY | (this.noAtime ? fs.constants.O_NOATIME : 0);
    fs.open(piecePathIn(this.piecesDir, hash, this.keys !== null), flags, (err, fd) => {
      if (err) {
        if (err.code === 'EPERM' && this.noAtime) {
          this.noAtime = false;
          return this.readFileAhead(hash, length, buf, done);
        }
        return done(missing(hash));
      }
      fs.read(fd, buf, 0, this.readLength(length), 0, (readErr, n) => {
        fs.close(fd, () => undefined);
        done(readErr ? unreadable(hash, readErr) : buf.subarray(0, n));
      });
    });
  }

  /** Checks and decodes the file `raw` of the piece `hash` (from readFile or readFileAhead) into `into`, or a fresh buffer. */
  check(hash: string, length: number, raw: Buffer, into?: Buffer): PieceRead {
    try {
      const overhead = this.keys ? SEALED_PIECE_OVERHEAD : 0;
      const bound = this.readLength(length) - 1;
      const size = raw.length;
      if (size < 8 + overhead || size > bound) return { ok: false, problem: 'damaged', detail: `piece ${hash} is ${size > bound ? `more than ${bound}` : size} bytes, impossible for ${length} bytes of data` };
      let src: Buffer = raw;
      if (this.keys) {
        const opened = this.keys.openPiece(hash, length, raw);
        if ('problem' in opened) return { ok: false, problem: 'damaged', detail: `piece ${hash} ${opened.problem}` };
        src = opened.frame;
      }
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
      const name = this.keys ? this.keys.pieceName(out) : sha256Hex(out);
      if (name !== hash) return { ok: false, problem: 'damaged', detail: `piece ${hash} does not hold the data it is named by (${this.keys ? 'keyed hash' : 'SHA-256'} differs)` };
      return { ok: true, data: out, storedBytes: size, frame: src };
    } catch (err) {
      if (err instanceof ImprintError) throw err;
      return unreadable(hash, err);
    }
  }
}

export type PieceProblem = Extract<PieceRead, { ok: false }>;

const missing = (hash: string): PieceProblem => ({ ok: false, problem: 'missing', detail: `piece ${hash} is missing` });

const unreadable = (hash: string, err: unknown): PieceProblem => ({ ok: false, problem: 'damaged', detail: `piece ${hash} cannot be read (${(err as Error).message})` });
