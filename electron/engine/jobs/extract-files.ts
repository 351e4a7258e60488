import * as fs from 'fs';
import * as path from 'path';
import { ImprintError, errnoOf } from '../errors';
import type { FileEntry, FilesystemView } from '../disks/filesystem-driver';
import { walk, type WalkProblem } from './browse-source';
import { COPY_MIN_BYTES, type ExtentCopier } from './extract-copy';
import { unsafeNameReason } from './destination-names';

/**
 * Copies files and folders out of a filesystem view into a destination
 * folder. Every name comes from untrusted metadata: each becomes one path
 * component only after unsafeNameReason() accepts it, nothing is ever
 * written through a symlink or into a folder Imprint did not create or find
 * as a real folder, and an existing file is replaced only with `force`.
 */

/** Bytes read from the source per step. */
const CHUNK = 4 << 20;
/**
 * Files of a folder are queued as the walk finds them and copied in batches
 * of this many, in the order their data lies in the volume (see
 * `copyQueued`). Bounded so that a folder of millions of files does not
 * hold them all in memory at once.
 */
const ORDER_BATCH = 16_384;

/** A file found by the walk, waiting for its turn in volume order. */
interface QueuedFile {
  entry: FileEntry;
  dest: string;
  sourcePath: string;
}

export interface ExtractProblem {
  /** The entry's path in the source, '/'-joined as stored. */
  path: string;
  message: string;
}

export interface ExtractOptions {
  force: boolean;
  platform?: NodeJS.Platform;
  /** Bytes of file content written so far. */
  onBytes?: (bytesDone: number) => void;
  onProblem?: (p: ExtractProblem) => void;
  /** Copies large files from their extents (extract-copy.ts); the view's volume lies at `volumeStart` of the copier's source. */
  copier?: { copier: ExtentCopier; volumeStart: number; volumeSize: number };
}

export interface ExtractTotals {
  files: number;
  folders: number;
  symlinks: number;
  bytes: number;
  problems: number;
}

/** Sum of file sizes under `entry` (for progress), walking the same way extract will. */
export async function plannedBytes(view: FilesystemView, entry: FileEntry): Promise<number> {
  if (entry.kind !== 'directory') return entry.kind === 'file' ? entry.size : 0;
  let total = 0;
  for await (const item of walk(view, entry, () => undefined, { recursive: true })) if (item.entry.kind === 'file') total += item.entry.size;
  return total;
}

export class Extractor {
  readonly totals: ExtractTotals = { files: 0, folders: 0, symlinks: 0, bytes: 0, problems: 0 };
  /** Folders to stamp with their times and modes once their contents are in (deepest first). */
  private readonly folderTimes: { dest: string; entry: FileEntry }[] = [];
  private readonly platform: NodeJS.Platform;
  private readonly queued: QueuedFile[] = [];

  constructor(
    private readonly view: FilesystemView,
    private readonly destRoot: string,
    private readonly opts: ExtractOptions,
  ) {
    this.platform = opts.platform ?? process.platform;
  }

  private problem(sourcePath: string, message: string): void {
    this.totals.problems++;
    this.opts.onProblem?.({ path: sourcePath, message });
  }

  /** Extracts `entry` (found at `sourcePath`) as `destRoot/<entry's name>`, folders with everything in them. */
  async extract(entry: FileEntry, sourcePath: string): Promise<void> {
    const rootName = entry.name === '' ? null : entry.name;
    if (rootName !== null) {
      const why = unsafeNameReason(rootName, this.platform);
      if (why) return this.problem(sourcePath, `skipped: ${why}`);
    }
    const top = rootName === null ? this.destRoot : path.join(this.destRoot, rootName);
    if (entry.kind !== 'directory') return this.one(entry, top, sourcePath);
    if (!(await this.folder(top, sourcePath, rootName === null))) return;
    this.folderTimes.push({ dest: top, entry });
    const problems: WalkProblem[] = [];
    const skip = new Set<string>();
    const base = sourcePath.replace(/\/+$/, '');
    const show = (names: string[]): string => `${base}/${names.join('/')}`;
    const destOf = new Map<string, string>([['', top]]);
    for await (const item of walk(this.view, entry, (p) => problems.push(p), {
      recursive: true,
      // Folders that were not created (unsafe name, a file in the way) are not entered.
      enter: (it) => !skip.has(it.names.join('\0')),
    })) {
      const parent = destOf.get(item.names.slice(0, -1).join('\0'));
      const name = item.names[item.names.length - 1]!;
      if (parent === undefined) continue;
      const why = unsafeNameReason(name, this.platform);
      const key = item.names.join('\0');
      if (why) {
        skip.add(key);
        this.problem(show(item.names), `skipped: ${why}`);
        continue;
      }
      const dest = path.join(parent, name);
      // unsafeNameReason already keeps `dest` inside; this says so again, cheaply, for the reader.
      if (path.dirname(dest) !== parent) throw new ImprintError('E_INTERNAL', `"${name}" would leave ${parent}`);
      if (item.entry.kind === 'directory') {
        if (await this.folder(dest, show(item.names), false)) {
          destOf.set(key, dest);
          this.folderTimes.push({ dest, entry: item.entry });
        } else skip.add(key);
      } else if (item.entry.kind === 'file') {
        this.queued.push({ entry: item.entry, dest, sourcePath: show(item.names) });
        if (this.queued.length >= ORDER_BATCH) await this.copyQueued();
      } else {
        await this.one(item.entry, dest, show(item.names));
      }
    }
    await this.copyQueued();
    for (const p of problems) this.problem(show(p.names), p.message);
  }

  /**
   * Copies the queued files in the order their first bytes lie in the
   * volume, not in the walk's. A backup is decoded a frame (4 MiB) at a
   * time and only the last few frames are kept, while a folder's files lie
   * all over the partition: taken in the walk's order, the bench drive's
   * /usr (39,000 files, 240 MiB) decoded its frames again and again, 7.2 of
   * a 13 s extraction. In volume order each frame is decoded about once, and
   * a drive or an image is read forward instead of back and forth. Files the
   * view cannot place (no extents: inline, resident or compressed data, or a
   * driver without them) keep their walk order, after the others.
   */
  private async copyQueued(): Promise<void> {
    const batch = this.queued.splice(0);
    const placed: (QueuedFile & { at: number })[] = [];
    for (const f of batch) placed.push({ ...f, at: await this.firstByteAt(f.entry) });
    // Array.prototype.sort is stable: equal places (the unplaced, at Infinity) keep the walk's order.
    placed.sort((a, b) => a.at - b.at);
    for (const f of placed) await this.one(f.entry, f.dest, f.sourcePath);
  }

  /** Where in the volume `entry`'s data starts, or Infinity where the view cannot say. */
  private async firstByteAt(entry: FileEntry): Promise<number> {
    if (!this.view.extents || entry.size === 0) return Infinity;
    try {
      return (await this.view.extents(entry))?.[0]?.volumeOffset ?? Infinity;
    } catch {
      // Damaged metadata: the copy itself meets it again and reports it for this file.
      return Infinity;
    }
  }

  /** Stamps folders with their times and modes, deepest first (writing into a folder changes its time). */
  async finish(): Promise<void> {
    for (const { dest, entry } of this.folderTimes.reverse()) {
      try {
        if (entry.mode !== undefined && this.platform !== 'win32') fs.chmodSync(dest, (entry.mode & 0o777) | 0o700);
        if (entry.mtimeMs !== undefined) fs.utimesSync(dest, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
      } catch {
        // A folder's time is a nicety; its files are in.
      }
    }
  }

  /** Creates (or finds, as a real folder and not a symlink) `dest`. */
  private async folder(dest: string, sourcePath: string, isRoot: boolean): Promise<boolean> {
    try {
      fs.mkdirSync(dest, { recursive: isRoot });
      this.totals.folders++;
      return true;
    } catch (err) {
      if (errnoOf(err) === 'EEXIST' && fs.lstatSync(dest).isDirectory()) return true;
      this.problem(sourcePath, errnoOf(err) === 'EEXIST' ? `skipped: ${dest} exists and is not a folder` : `folder not created: ${(err as Error).message}`);
      return false;
    }
  }

  /** A file, symlink or other entry at `dest`. */
  private async one(entry: FileEntry, dest: string, sourcePath: string): Promise<void> {
    if (entry.kind === 'other') return this.problem(sourcePath, 'skipped: not a file, folder or symlink (a device, FIFO or socket)');
    const create = (): Promise<void> => (entry.kind === 'symlink' ? this.symlink(entry, dest) : this.file(entry, dest));
    try {
      try {
        await create();
      } catch (err) {
        // Both creations refuse a name that is taken (O_EXCL, symlink(2)), a dangling symlink included: what is there is
        // looked at only then, two calls fewer per file than looking first, and nothing is followed or truncated.
        if (errnoOf(err) !== 'EEXIST') throw err;
        if (!this.opts.force) return this.problem(sourcePath, `skipped: ${dest} already exists (--force replaces it)`);
        if (fs.lstatSync(dest).isDirectory()) return this.problem(sourcePath, `skipped: ${dest} is a folder`);
        fs.unlinkSync(dest);
        await create();
      }
    } catch (err) {
      if (err instanceof ImprintError && err.kind === 'failed' && err.code !== 'E_CORRUPT_SOURCE') throw err;
      this.problem(sourcePath, `not extracted: ${(err as Error).message}`);
    }
  }

  private async symlink(entry: FileEntry, dest: string): Promise<void> {
    const target = await this.view.readlink(entry);
    try {
      fs.symlinkSync(target, dest);
    } catch (err) {
      if (errnoOf(err) === 'EPERM') throw new Error(`this system does not let Imprint create symlinks (target: ${target})`, { cause: err });
      throw err;
    }
    this.totals.symlinks++;
    if (entry.mtimeMs !== undefined) {
      try {
        fs.lutimesSync(dest, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
      } catch {
        // Not every platform sets a symlink's own time.
      }
    }
  }

  private async file(entry: FileEntry, dest: string): Promise<void> {
    // 'wx': O_CREAT|O_EXCL never follows a symlink that appeared meanwhile, and never truncates what exists.
    const fd = fs.openSync(dest, 'wx', 0o600);
    let ok = false;
    try {
      const extents = this.opts.copier && this.view.extents && entry.size >= COPY_MIN_BYTES ? await this.view.extents(entry) : null;
      /** End of the bytes written: where it falls short of the size (holes at the end, or the copier's), the size is set. */
      let written = 0;
      if (extents && this.opts.copier) {
        const { copier, volumeStart, volumeSize } = this.opts.copier;
        const before = this.totals.bytes;
        await copier.copy(fd, entry.size, extents, volumeStart, volumeSize, (copied) => {
          this.totals.bytes = before + copied;
          this.opts.onBytes?.(this.totals.bytes);
        });
        // Holes, which no extent covers, are done too.
        this.totals.bytes = before + entry.size;
        this.opts.onBytes?.(this.totals.bytes);
      }
      for (let at = extents ? entry.size : 0; at < entry.size; ) {
        const piece = await this.view.read(entry, at, Math.min(CHUNK, entry.size - at));
        if (piece.length === 0) throw new Error(`the file ends at byte ${at} of ${entry.size}`);
        // A run of zeros (a sparse file's hole, mostly) is skipped: the file stays sparse where the destination can, and the size is set below.
        if (!isZeros(piece)) {
          let done = 0;
          while (done < piece.length) done += fs.writeSync(fd, piece, done, piece.length - done, at + done);
          written = at + piece.length;
        }
        at += piece.length;
        this.totals.bytes += piece.length;
        this.opts.onBytes?.(this.totals.bytes);
      }
      if (extents || written !== entry.size) fs.ftruncateSync(fd, entry.size);
      // Through the open file, not the path: no second lookup of it, and nothing else can have taken the name meanwhile.
      if (entry.mode !== undefined && this.platform !== 'win32') {
        try {
          fs.fchmodSync(fd, entry.mode & 0o777);
        } catch {
          // Modes are kept where the destination allows (a FAT or exFAT stick does not).
        }
      }
      if (entry.mtimeMs !== undefined) fs.futimesSync(fd, new Date(entry.mtimeMs), new Date(entry.mtimeMs));
      ok = true;
    } finally {
      fs.closeSync(fd);
      if (!ok) fs.rmSync(dest, { force: true });
    }
    this.totals.files++;
  }
}

const ZEROS = Buffer.alloc(CHUNK);

function isZeros(b: Buffer): boolean {
  return b.length <= ZEROS.length && b.equals(ZEROS.subarray(0, b.length));
}
