import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import type { Volume } from '../volume';
import { kindOfMode } from '../posix-mode';
import { parseDirBlock, type RawDirent } from './ext-directory';
import { fileExtents, inlineContent, isMapped, readExtents, type Extent } from './ext-file-map';
import { readGroupDescriptors, type GroupDesc } from './ext-groups';
import { journalReplay } from './ext-journal';
import { ExtCorruptError, INODE_FLAGS, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, readInode, type Inode } from './ext-inode';
import { INCOMPAT, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, parseSuperblock, type ExtSuperblock } from './ext-superblock';
import { MetadataCache } from './metadata-cache';

/**
 * A read-only view of an ext2/3/4 filesystem's files: folders listed from
 * their entry blocks, files read through extents, block maps or inline
 * data. Every pointer is range-checked (ext-file-map.ts, ext-inode.ts);
 * damage in one folder is an error for that folder only.
 */

/** What FileEntry.ref holds for this reader. */
interface ExtRef {
  ino: number;
}

/** Warnings kept per view at most: a badly damaged volume should not grow memory without end. */
const MAX_WARNINGS = 200;
/** Extent lists cached (recently read files). */
const EXTENT_CACHE = 64;
/** The longest symlink target read (the kernel's PATH_MAX is 4096; a block is the most it stores). */
const MAX_LINK = 65536;
/** Directory bytes read per volume read. */
const DIR_CHUNK = 1 << 20;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function inoOf(entry: FileEntry): number {
  const ref = entry.ref as Partial<ExtRef> | null;
  if (!ref || typeof ref !== 'object' || !Number.isInteger(ref.ino)) throw new Error(`"${entry.name}" does not come from this ext filesystem`);
  return ref.ino!;
}


function entryOf(name: string, inode: Inode): FileEntry {
  const ref: ExtRef = { ino: inode.ino };
  return { name, kind: kindOfMode(inode.mode), size: inode.size, mode: inode.mode & 0o7777, mtimeMs: inode.mtimeMs, ref };
}

class ExtView implements FilesystemView {
  readonly filesystem: string;
  readonly label: string | null;
  private readonly extentCache = new Map<number, Promise<Extent[]>>();

  constructor(
    private readonly volume: Volume,
    private readonly cache: MetadataCache,
    private readonly sb: ExtSuperblock,
    private readonly groups: GroupDesc[],
    private readonly rootInode: Inode,
    readonly warnings: string[],
  ) {
    this.filesystem = sb.flavour;
    this.label = sb.label === '' ? null : sb.label;
  }

  private warn(msg: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(msg);
  }

  root(): FileEntry {
    return entryOf('', this.rootInode);
  }

  private inode(ino: number): Promise<Inode> {
    return readInode(this.cache, this.sb, this.groups, ino);
  }

  private extentsOf(inode: Inode): Promise<Extent[]> {
    let p = this.extentCache.get(inode.ino);
    if (!p) {
      p = fileExtents(this.cache, this.sb, inode);
      p.catch(() => this.extentCache.delete(inode.ino));
      this.extentCache.set(inode.ino, p);
      if (this.extentCache.size > EXTENT_CACHE) this.extentCache.delete(this.extentCache.keys().next().value!);
    }
    return p;
  }

  private async dirents(dir: Inode): Promise<RawDirent[]> {
    const hasFileType = (this.sb.incompat & INCOMPAT.FILETYPE) !== 0;
    const where = (part: string) => `folder inode ${dir.ino}, ${part}`;
    if (dir.flags & INODE_FLAGS.INLINE_DATA) {
      // The first 4 bytes are the parent's inode ("..."); entries follow, then continue in system.data.
      const data = Buffer.concat([dir.iBlock, dir.inlineTail ?? Buffer.alloc(0)]);
      const out = parseDirBlock(data.subarray(4, 60), this.sb.blockSize, hasFileType, this.sb.inodesCount, where('inline entries'));
      if (data.length > 60) out.push(...parseDirBlock(data.subarray(60), this.sb.blockSize, hasFileType, this.sb.inodesCount, where('inline attribute entries')));
      return out;
    }
    const bs = this.sb.blockSize;
    if (dir.size % bs !== 0 || dir.size > this.volume.size) throw new ExtCorruptError(`folder inode ${dir.ino}: size ${dir.size} is not a whole number of blocks within the volume`);
    const extents = await this.extentsOf(dir);
    const out: RawDirent[] = [];
    for (let at = 0; at < dir.size; at += DIR_CHUNK) {
      const chunk = await readExtents(this.volume, this.sb, extents, dir.size, at, DIR_CHUNK);
      for (let b = 0; b < chunk.length; b += bs) {
        // A hole in a folder holds no entries; the kernel's readdir skips it too.
        if (!isMapped(extents, (at + b) / bs)) continue;
        out.push(...parseDirBlock(chunk.subarray(b, b + bs), bs, hasFileType, this.sb.inodesCount, where(`block ${(at + b) / bs}`)));
      }
    }
    return out;
  }

  async list(dirEntry: FileEntry): Promise<FileEntry[]> {
    const dir = await this.inode(inoOf(dirEntry));
    if ((dir.mode & S_IFMT) !== S_IFDIR) throw new Error(`"${dirEntry.name}" is not a folder`);
    if (dir.flags & INODE_FLAGS.ENCRYPT) throw new Error(`"${dirEntry.name}" is an encrypted folder (fscrypt); its names cannot be read without the key`);
    const out: FileEntry[] = [];
    for (const d of await this.dirents(dir)) {
      const name = utf8.decode(d.name);
      if (d.name.equals(Buffer.from('.')) || d.name.equals(Buffer.from('..'))) continue;
      if (d.ino === dir.ino) {
        this.warn(`folder inode ${dir.ino} lists itself as "${name}"; not followed`);
        continue;
      }
      try {
        out.push(entryOf(name, await this.inode(d.ino)));
      } catch (err) {
        if (!(err instanceof ExtCorruptError)) throw err;
        this.warn(`"${name}" in folder inode ${dir.ino} left out: ${err.message}`);
      }
    }
    return out;
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError(`bad read of ${length} bytes at ${offset}`);
    const inode = await this.inode(inoOf(file));
    if ((inode.mode & S_IFMT) === S_IFDIR) throw new Error(`"${file.name}" is a folder`);
    if (inode.flags & INODE_FLAGS.ENCRYPT) throw new Error(`"${file.name}" is encrypted (fscrypt); its contents cannot be read without the key`);
    if ((inode.mode & S_IFMT) === S_IFLNK || inode.flags & INODE_FLAGS.INLINE_DATA) {
      // A link's bytes are its target (i_block of a fast link is text, not block numbers).
      const all = (inode.mode & S_IFMT) === S_IFLNK ? await this.linkBytes(inode, file.name) : inlineContent(inode);
      return Buffer.from(all.subarray(Math.min(offset, all.length), Math.min(all.length, offset + length)));
    }
    return readExtents(this.volume, this.sb, await this.extentsOf(inode), inode.size, offset, length);
  }

  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    const inode = await this.inode(inoOf(file));
    if ((inode.mode & S_IFMT) !== S_IFREG || inode.flags & (INODE_FLAGS.ENCRYPT | INODE_FLAGS.INLINE_DATA)) return null;
    const bs = this.sb.blockSize;
    const out: FileExtent[] = [];
    for (const e of await this.extentsOf(inode)) {
      const offset = e.logical * bs;
      if (offset >= inode.size) break;
      // Unwritten extents read as zeros: left out.
      if (!e.unwritten) out.push({ offset, length: Math.min(e.length * bs, inode.size - offset), volumeOffset: e.physical * bs });
    }
    return out;
  }

  async readlink(link: FileEntry): Promise<string> {
    const inode = await this.inode(inoOf(link));
    if ((inode.mode & S_IFMT) !== S_IFLNK) throw new Error(`"${link.name}" is not a symbolic link`);
    return utf8.decode(await this.linkBytes(inode, link.name));
  }

  private async linkBytes(inode: Inode, name: string): Promise<Buffer> {
    if (inode.flags & INODE_FLAGS.ENCRYPT) throw new Error(`"${name}" is an encrypted link (fscrypt)`);
    if (inode.size > MAX_LINK) throw new ExtCorruptError(`symbolic link inode ${inode.ino} is ${inode.size} bytes long`);
    if (inode.flags & INODE_FLAGS.INLINE_DATA) return inlineContent(inode);
    if (this.isFastSymlink(inode)) {
      if (inode.size > 60) throw new ExtCorruptError(`symbolic link inode ${inode.ino}: ${inode.size} bytes cannot fit in the inode`);
      return inode.iBlock.subarray(0, inode.size);
    }
    return readExtents(this.volume, this.sb, await this.extentsOf(inode), inode.size, 0, inode.size);
  }

  /** A target stored in i_block itself: no blocks besides an extended-attribute block (ext4_inode_is_fast_symlink). */
  private isFastSymlink(inode: Inode): boolean {
    const eaBlocks = inode.fileAcl ? (inode.flags & INODE_FLAGS.HUGE_FILE ? 1 : this.sb.blockSize / 512) : 0;
    return inode.blocks - eaBlocks === 0;
  }
}

async function load(volume: Volume): Promise<{ sb: ExtSuperblock; groups: GroupDesc[]; warnings: string[] }> {
  const parsed = parseSuperblock(await volume.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE), volume.size, 'reading');
  if (!parsed.ok) throw new Error(`cannot read this ext filesystem: ${parsed.reason}`);
  const warnings = [...parsed.warnings];
  const gd = await readGroupDescriptors(volume, parsed.sb, warnings);
  if (!gd.ok) throw new Error(`cannot read this ext filesystem: ${gd.reason}`);
  return { sb: parsed.sb, groups: gd.groups, warnings };
}

/** Opens an ext2/3/4 volume for listing and reading; throws an Error with a user-facing message when it cannot. */
export async function openExt(disk: Volume): Promise<FilesystemView> {
  if (disk.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) throw new Error('the volume is too small to hold ext2/3/4');
  let volume = disk;
  let { sb, groups, warnings } = await load(disk);
  if (sb.incompat & INCOMPAT.RECOVER) {
    // Read the filesystem as the replay will leave it, as a mount would.
    const replay = await journalReplay(disk, sb, groups);
    if (replay.ok) {
      volume = replay.volume;
      ({ sb, groups, warnings } = await load(volume));
      warnings = warnings.filter((w) => !/journal was not replayed/.test(w));
      warnings.push(replay.transactions === 0
        ? `${sb.flavour} is marked as needing recovery, but its journal holds nothing to replay`
        : `${sb.flavour} was not cleanly unmounted: its journal (${replay.blocks} blocks from ${replay.transactions} transactions) is applied in memory; nothing is written`);
    } else {
      warnings.push(replay.reason);
    }
  }
  const cache = new MetadataCache(volume);
  let root: Inode;
  try {
    root = await readInode(cache, sb, groups, ROOT_INO);
  } catch (err) {
    throw new Error(`cannot read this ext filesystem's root folder: ${(err as Error).message}`);
  }
  if ((root.mode & S_IFMT) !== S_IFDIR) throw new Error(`cannot read this ext filesystem: its root (inode 2) is not a folder`);
  return new ExtView(volume, cache, sb, groups, root, warnings);
}
