import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, kindOfMode } from '../posix-mode';
import { VolumeRangeError, type Volume } from '../volume';
import { blockEntries, shortFormEntries, type XfsDirent } from './xfs-directory';
import { FORMAT_LOCAL, inodeExtents, readInode, type XfsExtent, type XfsInode } from './xfs-inode';
import { logState } from './xfs-log';
import { XfsProblem, fsbToByte, parseSuper, type XfsSuper } from './xfs-superblock';

/**
 * A read-only view of an XFS volume's files: folders from their short-form,
 * block or leaf/node directories (the data blocks; the hash leaves are not
 * needed to list), files through their extent lists or extent B-trees
 * (unwritten extents and holes read as zeros), symlinks local or in remote
 * blocks. A log that a mount would replay is not replayed: the view says
 * so, and shows the volume as it was at its last checkpoint.
 */

/** Directory data lives below this byte offset of the directory (XFS_DIR2_LEAF_OFFSET); leaves and free indexes above. */
const DIR_DATA_END = 32 * 2 ** 30;
const MAX_WARNINGS = 200;
const EXTENT_CACHE = 64;
const MAX_LINK = 1024;
/** A remote symlink block's header on version 5 ("XSLM"): magic, offset, bytes, crc, uuid, owner, blkno, lsn. */
const SYMLINK_MAGIC = 0x58534c4d;
const SYMLINK_HEADER = 56;
/** Bytes read per volume read of a file. */
const READ_CHUNK = 4 << 20;

interface XfsRef {
  ino: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function inoOf(entry: FileEntry): number {
  const ref = entry.ref as Partial<XfsRef> | null;
  if (!ref || typeof ref !== 'object' || !Number.isSafeInteger(ref.ino)) throw new Error(`"${entry.name}" does not come from this XFS filesystem`);
  return ref.ino!;
}


function entryOf(name: string, inode: XfsInode): FileEntry {
  const kind = kindOfMode(inode.mode);
  return { name, kind, size: kind === 'directory' ? 0 : inode.size, mode: inode.mode & 0o7777, mtimeMs: inode.mtimeMs, ref: { ino: inode.ino } };
}

class XfsView implements FilesystemView {
  readonly filesystem = 'xfs';
  readonly label: string | null;
  private readonly extentCache = new Map<number, Promise<XfsExtent[]>>();

  constructor(
    private readonly volume: Volume,
    private readonly sb: XfsSuper,
    private readonly top: FileEntry,
    readonly warnings: string[],
  ) {
    this.label = sb.label === '' ? null : sb.label;
  }

  private warn(msg: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(msg);
  }

  root(): FileEntry {
    return this.top;
  }

  /** Metadata problems become a plain error for this entry (the rest still lists). */
  private async wrap<T>(entry: FileEntry, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof XfsProblem || err instanceof VolumeRangeError) throw new Error(`"${entry.name || '/'}": XFS ${err.message}`);
      throw err;
    }
  }

  private extentsOf(inode: XfsInode): Promise<XfsExtent[]> {
    let p = this.extentCache.get(inode.ino);
    if (!p) {
      p = inodeExtents(this.volume, this.sb, inode);
      p.catch(() => this.extentCache.delete(inode.ino));
      this.extentCache.set(inode.ino, p);
      if (this.extentCache.size > EXTENT_CACHE) this.extentCache.delete(this.extentCache.keys().next().value as number);
    }
    return p;
  }

  private async dirents(dir: XfsInode): Promise<XfsDirent[]> {
    const where = `folder inode ${dir.ino}`;
    if (dir.format === FORMAT_LOCAL) return shortFormEntries(dir.fork, this.sb.hasFtype, where);
    const bs = this.sb.blockSize;
    const dirBlock = bs * 2 ** this.sb.dirBlockLog;
    const out: XfsDirent[] = [];
    for (const e of await this.extentsOf(dir)) {
      if (e.unwritten) continue;
      for (let b = 0; b < e.length; b += dirBlock / bs) {
        if ((e.offset + b) * bs >= DIR_DATA_END) return out;
        const block = await this.volume.read(fsbToByte(this.sb, e.start + b), dirBlock);
        out.push(...blockEntries(block, this.sb.crc, this.sb.hasFtype, `${where}, block ${e.offset + b}`));
      }
    }
    return out;
  }

  async list(dirEntry: FileEntry): Promise<FileEntry[]> {
    const ino = inoOf(dirEntry);
    return this.wrap(dirEntry, async () => {
      const dir = await readInode(this.volume, this.sb, ino);
      if ((dir.mode & S_IFMT) !== S_IFDIR) throw new Error(`"${dirEntry.name}" is not a folder`);
      const out: FileEntry[] = [];
      for (const d of await this.dirents(dir)) {
        const name = utf8.decode(d.name);
        if (name === '.' || name === '..') continue;
        if (d.ino === ino) {
          this.warn(`folder inode ${ino} lists itself as "${name}"; not followed`);
          continue;
        }
        try {
          out.push(entryOf(name, await readInode(this.volume, this.sb, d.ino)));
        } catch (err) {
          if (!(err instanceof XfsProblem || err instanceof VolumeRangeError)) throw err;
          this.warn(`"${name}" in folder inode ${ino} left out: ${err.message}`);
        }
      }
      return out;
    });
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError(`bad read of ${length} bytes at ${offset}`);
    return this.wrap(file, async () => {
      const inode = await readInode(this.volume, this.sb, inoOf(file));
      if ((inode.mode & S_IFMT) === S_IFDIR) throw new Error(`"${file.name}" is a folder`);
      if ((inode.mode & S_IFMT) === S_IFLNK) {
        const target = await this.linkBytes(inode);
        return Buffer.from(target.subarray(Math.min(offset, target.length), Math.min(target.length, offset + length)));
      }
      const end = Math.min(inode.size, offset + length);
      const out = Buffer.alloc(Math.max(0, end - offset));
      const bs = this.sb.blockSize;
      for (const e of await this.extentsOf(inode)) {
        const from = Math.max(offset, e.offset * bs);
        const to = Math.min(end, (e.offset + e.length) * bs);
        if (from >= to || e.unwritten) continue;
        for (let at = from; at < to; at += READ_CHUNK) {
          const n = Math.min(READ_CHUNK, to - at);
          const bytes = await this.volume.read(fsbToByte(this.sb, e.start) + (at - e.offset * bs), n);
          bytes.copy(out, at - offset);
        }
      }
      return out;
    });
  }

  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    return this.wrap(file, async () => {
      const inode = await readInode(this.volume, this.sb, inoOf(file));
      if ((inode.mode & S_IFMT) !== S_IFREG || inode.format === FORMAT_LOCAL) return null;
      const bs = this.sb.blockSize;
      const out: FileExtent[] = [];
      for (const e of await this.extentsOf(inode)) {
        const offset = e.offset * bs;
        if (e.unwritten || offset >= inode.size) continue;
        out.push({ offset, length: Math.min(e.length * bs, inode.size - offset), volumeOffset: fsbToByte(this.sb, e.start) });
      }
      return out;
    });
  }

  async readlink(link: FileEntry): Promise<string> {
    return this.wrap(link, async () => {
      const inode = await readInode(this.volume, this.sb, inoOf(link));
      if ((inode.mode & S_IFMT) !== S_IFLNK) throw new Error(`"${link.name}" is not a symbolic link`);
      return utf8.decode(await this.linkBytes(inode));
    });
  }

  private async linkBytes(inode: XfsInode): Promise<Buffer> {
    if (inode.size > MAX_LINK) throw new XfsProblem(`symbolic link inode ${inode.ino} is ${inode.size} bytes long`);
    if (inode.format === FORMAT_LOCAL) {
      if (inode.size > inode.fork.length) throw new XfsProblem(`symbolic link inode ${inode.ino} holds fewer bytes than it claims`);
      return inode.fork.subarray(0, inode.size);
    }
    const parts: Buffer[] = [];
    let have = 0;
    for (const e of await this.extentsOf(inode)) {
      // A target is at most MAX_LINK bytes: a crafted extent of millions of blocks is not read through.
      for (let b = 0; b < e.length && have < inode.size; b++) {
        const block = await this.volume.read(fsbToByte(this.sb, e.start + b), this.sb.blockSize);
        if (!this.sb.crc) parts.push(block);
        else {
          if (block.readUInt32BE(0) !== SYMLINK_MAGIC) throw new XfsProblem(`symbolic link inode ${inode.ino}'s block is not one`);
          parts.push(block.subarray(SYMLINK_HEADER, SYMLINK_HEADER + Math.min(block.readUInt32BE(8), this.sb.blockSize - SYMLINK_HEADER)));
        }
        have += parts[parts.length - 1]!.length;
      }
    }
    return Buffer.concat(parts).subarray(0, inode.size);
  }
}

/** Opens an XFS volume for listing and reading; throws an Error with a user-facing message when it cannot. */
export async function openXfs(volume: Volume): Promise<FilesystemView> {
  try {
    const sb = parseSuper(await volume.read(0, Math.min(4096, volume.size)));
    if (sb.dataBlocks * sb.blockSize > volume.size) throw new XfsProblem(`it claims ${sb.dataBlocks * sb.blockSize} bytes, but the partition holds ${volume.size}`);
    const warnings: string[] = [];
    const log = await logState(volume, sb);
    if (!log.clean) warnings.push(`XFS: ${log.reason}; the log is not replayed, so what it holds is not listed`);
    const root = await readInode(volume, sb, sb.rootIno);
    if ((root.mode & S_IFMT) !== S_IFDIR) throw new XfsProblem('its root inode is not a folder');
    return new XfsView(volume, sb, entryOf('', root), warnings);
  } catch (err) {
    if (err instanceof XfsProblem || err instanceof VolumeRangeError) throw new Error(`cannot read this XFS filesystem: ${err.message}`);
    throw err;
  }
}
