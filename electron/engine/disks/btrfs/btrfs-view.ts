import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, kindOfMode } from '../posix-mode';
import { VolumeRangeError, type Volume } from '../volume';
import { decodeExtent, MAX_DECODED } from './btrfs-compression';
import { BtrfsDataDamage, BtrfsDataSums } from './btrfs-data-sums';
import { loadBtrfs, treeRoot } from './btrfs-load';
import { BtrfsProblem, type BtrfsSuper } from './btrfs-superblock';
import type { BtrfsKey, TreeReader } from './btrfs-tree';

/**
 * A read-only view of a btrfs volume's files, from the top-level subvolume
 * (id 5), as `mount -o subvolid=5` shows it: every other subvolume and
 * snapshot appears as the folder that holds it (Fedora's "root" and
 * "home"). Folders are listed from their DIR_INDEX items, files read from
 * their EXTENT_DATA items: inline, regular (holes and preallocated ranges
 * read as zeros) and compressed (zlib, zstd, LZO: btrfs-compression.ts). Layout: btrfs_tree.h
 * (btrfs_inode_item, btrfs_dir_item, btrfs_file_extent_item). Data is
 * checked against the checksums btrfs keeps of it, as the kernel does
 * (btrfs-data-sums.ts), unless the file is nodatasum; where a DUP chunk's
 * first copy fails, its second is read, as the kernel does. A log tree left by a
 * crash is not replayed: what it holds is missing, and the view says so.
 */

const INODE_ITEM_KEY = 1;
const DIR_INDEX_KEY = 96;
const EXTENT_DATA_KEY = 108;
const ROOT_ITEM_KEY = 132;
const TOP_LEVEL = 5;
const FIRST_INODE = 256;
const MAX_OFFSET = (1n << 64n) - 1n;
/** Warnings kept per view at most. */
const MAX_WARNINGS = 200;
/** Extent lists cached (recently read files). */
const EXTENT_CACHE = 64;
/** The longest symlink target read (PATH_MAX). */
const MAX_LINK = 4096;
/** btrfs_inode_item flags: the file's data has no checksums (chattr +C, nodatasum). */
const INODE_NODATASUM = 1n;

interface BtrfsRef {
  tree: number;
  ino: number;
}

interface Inode {
  size: number;
  mode: number;
  mtimeMs: number;
  /** Whether btrfs keeps checksums of the file's data. */
  dataSums: boolean;
}

/** One EXTENT_DATA item: `length` bytes of the file from `fileOffset`. */
interface Extent {
  fileOffset: number;
  length: number;
  compression: number;
  /** inline: the bytes in the item; regular: where on the "disk" (logical) and which part of the extent; hole: neither. */
  inline: Buffer | null;
  diskBytenr: number;
  diskBytes: number;
  extentOffset: number;
  ramBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function refOf(entry: FileEntry): BtrfsRef {
  const ref = entry.ref as Partial<BtrfsRef> | null;
  if (!ref || typeof ref !== 'object' || !Number.isSafeInteger(ref.tree) || !Number.isSafeInteger(ref.ino)) throw new Error(`"${entry.name}" does not come from this btrfs filesystem`);
  return ref as BtrfsRef;
}

const exact = (objectid: number, type: number, offset = 0n): [BtrfsKey, BtrfsKey] => {
  const key = { objectid: BigInt(objectid), type, offset };
  return [key, key];
};

function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem(`its ${what} (${v}) is out of range`);
  return Number(v);
}


function parseInode(data: Buffer): Inode {
  if (data.length < 160) throw new BtrfsProblem('an inode item is truncated');
  return {
    size: safe(data.readBigUInt64LE(16), 'file size'),
    mode: data.readUInt32LE(52),
    mtimeMs: Number(data.readBigInt64LE(136)) * 1000 + Math.floor(data.readUInt32LE(144) / 1e6),
    dataSums: (data.readBigUInt64LE(64) & INODE_NODATASUM) === 0n,
  };
}

function parseExtent(fileOffset: number, data: Buffer): Extent {
  if (data.length < 21) throw new BtrfsProblem('a file extent item is truncated');
  const ramBytes = safe(data.readBigUInt64LE(8), 'extent size');
  const compression = data.readUInt8(16);
  if (data.readUInt8(17) !== 0 || data.readUInt16LE(18) !== 0) throw new Error('its data is encrypted or encoded in a way Imprint does not read');
  const type = data.readUInt8(20);
  if (type === 0) {
    const inline = data.subarray(21);
    return { fileOffset, length: compression ? ramBytes : inline.length, compression, inline, diskBytenr: 0, diskBytes: 0, extentOffset: 0, ramBytes };
  }
  if (data.length < 53) throw new BtrfsProblem('a file extent item is truncated');
  const diskBytenr = safe(data.readBigUInt64LE(21), 'extent address');
  const diskBytes = safe(data.readBigUInt64LE(29), 'extent length');
  const extentOffset = safe(data.readBigUInt64LE(37), 'extent offset');
  const length = safe(data.readBigUInt64LE(45), 'extent length');
  // Preallocated ranges (type 2) and holes (no disk address) read as zeros.
  const hole = type === 2 || diskBytenr === 0;
  if (!hole && compression === 0 && extentOffset + length > diskBytes) throw new BtrfsProblem('a file extent reaches past its disk extent');
  return { fileOffset, length, compression: hole ? 0 : compression, inline: null, diskBytenr: hole ? 0 : diskBytenr, diskBytes, extentOffset, ramBytes };
}

class BtrfsView implements FilesystemView {
  readonly filesystem = 'btrfs';
  readonly label: string | null;
  private readonly roots = new Map<number, Promise<{ at: number; level: number }>>();
  private readonly extentCache = new Map<string, Promise<Extent[]>>();
  private readonly sums: BtrfsDataSums;
  /** The top-level subvolume's folder, read when the view opens. */
  private top: FileEntry = { name: '', kind: 'directory', size: 0, ref: { tree: TOP_LEVEL, ino: FIRST_INODE } };

  constructor(
    private readonly volume: Volume,
    private readonly sb: BtrfsSuper,
    private readonly trees: TreeReader,
    readonly warnings: string[],
  ) {
    this.label = sb.label === '' ? null : sb.label;
    this.sums = new BtrfsDataSums(trees, sb);
  }

  private warn(msg: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(msg);
  }

  root(): FileEntry {
    return this.top;
  }

  async openTop(): Promise<void> {
    this.top = await this.entry('', refOf(this.top));
    if (this.top.kind !== 'directory') throw new BtrfsProblem('its top-level subvolume is not a folder');
  }

  /** The root of subvolume `tree`. */
  private rootOf(tree: number): Promise<{ at: number; level: number }> {
    let p = this.roots.get(tree);
    if (!p) {
      p = treeRoot(this.trees, this.sb, BigInt(tree)).then((r) => {
        if (!r) throw new BtrfsProblem(`subvolume ${tree} has no root`);
        return r;
      });
      this.roots.set(tree, p);
    }
    return p;
  }

  private async *items(tree: number, lo: BtrfsKey, hi: BtrfsKey): AsyncGenerator<{ key: BtrfsKey; data: Buffer }> {
    const r = await this.rootOf(tree);
    yield* this.trees.range(r.at, r.level, lo, hi);
  }

  private async inode(ref: BtrfsRef): Promise<Inode> {
    for await (const item of this.items(ref.tree, ...exact(ref.ino, INODE_ITEM_KEY))) return parseInode(item.data);
    throw new BtrfsProblem(`inode ${ref.ino} of subvolume ${ref.tree} is missing`);
  }

  async entry(name: string, ref: BtrfsRef): Promise<FileEntry> {
    const inode = await this.inode(ref);
    const kind = kindOfMode(inode.mode);
    return { name, kind, size: kind === 'directory' ? 0 : inode.size, mode: inode.mode & 0o7777, mtimeMs: inode.mtimeMs, ref };
  }

  async list(dirEntry: FileEntry): Promise<FileEntry[]> {
    const dir = refOf(dirEntry);
    const inode = await this.wrap(dirEntry, () => this.inode(dir));
    if ((inode.mode & S_IFMT) !== S_IFDIR) throw new Error(`"${dirEntry.name}" is not a folder`);
    const out: FileEntry[] = [];
    const lo = { objectid: BigInt(dir.ino), type: DIR_INDEX_KEY, offset: 0n };
    const hi = { objectid: BigInt(dir.ino), type: DIR_INDEX_KEY, offset: MAX_OFFSET };
    await this.wrap(dirEntry, async () => {
      for await (const item of this.items(dir.tree, lo, hi)) {
        const d = item.data;
        if (d.length < 30) throw new BtrfsProblem(`an entry of folder inode ${dir.ino} is truncated`);
        const nameLength = d.readUInt16LE(27);
        if (30 + d.readUInt16LE(25) + nameLength > d.length) throw new BtrfsProblem(`an entry of folder inode ${dir.ino} runs past its item`);
        const name = utf8.decode(d.subarray(30, 30 + nameLength));
        const locType = d.readUInt8(8);
        const locId = d.readBigUInt64LE(0);
        if (locId > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.warn(`"${name}" in folder inode ${dir.ino} left out: it points at object ${locId}`);
          continue;
        }
        // A subvolume or snapshot is a folder of its own tree, whose top folder is inode 256.
        const child: BtrfsRef | null = locType === INODE_ITEM_KEY ? { tree: dir.tree, ino: Number(locId) } : locType === ROOT_ITEM_KEY ? { tree: Number(locId), ino: FIRST_INODE } : null;
        if (!child || (child.tree === dir.tree && child.ino === dir.ino)) {
          this.warn(`"${name}" in folder inode ${dir.ino} left out: it does not point at a file or a subvolume`);
          continue;
        }
        try {
          out.push(await this.entry(name, child));
        } catch (err) {
          if (!(err instanceof BtrfsProblem || err instanceof VolumeRangeError)) throw err;
          this.warn(`"${name}" in folder inode ${dir.ino} left out: ${err.message}`);
        }
      }
    });
    return out;
  }

  /** Metadata problems become a plain error for this entry (the rest still lists). */
  private async wrap<T>(entry: FileEntry, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BtrfsProblem || err instanceof VolumeRangeError || err instanceof BtrfsDataDamage) throw new Error(`"${entry.name}": btrfs ${err.message}`);
      throw err;
    }
  }

  private extentsOf(ref: BtrfsRef): Promise<Extent[]> {
    const k = `${ref.tree}:${ref.ino}`;
    let p = this.extentCache.get(k);
    if (!p) {
      p = (async () => {
        const out: Extent[] = [];
        const lo = { objectid: BigInt(ref.ino), type: EXTENT_DATA_KEY, offset: 0n };
        const hi = { objectid: BigInt(ref.ino), type: EXTENT_DATA_KEY, offset: MAX_OFFSET };
        let end = 0;
        for await (const item of this.items(ref.tree, lo, hi)) {
          const e = parseExtent(safe(item.key.offset, 'file offset'), item.data);
          if (e.fileOffset < end) throw new BtrfsProblem(`the extents of inode ${ref.ino} overlap`);
          end = e.fileOffset + e.length;
          out.push(e);
        }
        return out;
      })();
      p.catch(() => this.extentCache.delete(k));
      this.extentCache.set(k, p);
      if (this.extentCache.size > EXTENT_CACHE) this.extentCache.delete(this.extentCache.keys().next().value as string);
    }
    return p;
  }

  /** Bytes [from, from + length) of extent `e`'s content, checked against the filesystem's checksums when `summed`. */
  private async extentBytes(e: Extent, from: number, length: number, summed: boolean): Promise<Buffer> {
    if (e.inline) {
      const content = e.compression ? decodeExtent(e.compression, e.inline, e.ramBytes) : e.inline;
      return content.subarray(from, from + length);
    }
    if (e.diskBytenr === 0) return Buffer.alloc(length);
    if (e.compression) {
      if (e.diskBytes > MAX_DECODED) throw new BtrfsProblem(`a compressed extent is ${e.diskBytes} bytes on disk`);
      // Summed as it lies on the disk, compressed; a compressed extent is whole sectors.
      const raw = summed ? await this.readChecked(e.diskBytenr, e.diskBytes) : await this.readLogical(e.diskBytenr, e.diskBytes);
      return decodeExtent(e.compression, raw, e.ramBytes).subarray(e.extentOffset + from, e.extentOffset + from + length);
    }
    const logical = e.diskBytenr + e.extentOffset + from;
    if (!summed) return this.readLogical(logical, length);
    // Whole sectors, read once and checked (a disk extent is whole sectors), then the part asked for.
    const sector = this.sums.sectorSize;
    const start = logical - (logical % sector);
    const whole = await this.readChecked(start, Math.ceil((logical + length - start) / sector) * sector);
    return whole.subarray(logical - start, logical - start + length);
  }

  /**
   * Logical bytes in whole sectors, checked, from the first copy that
   * matches its checksums: a DUP chunk keeps two on the drive, and where
   * the first is damaged the kernel reads the second (and so does this).
   * Throws the first copy's damage when none matches.
   */
  private async readChecked(start: number, length: number): Promise<Buffer> {
    let damage: BtrfsDataDamage | null = null;
    for (const place of this.trees.map.physical(start, length)) {
      const data = await this.volume.read(place.start, length);
      try {
        await this.sums.check(start, data);
        return data;
      } catch (err) {
        if (!(err instanceof BtrfsDataDamage)) throw err;
        damage ??= err;
      }
    }
    throw damage ?? new BtrfsProblem(`its data at logical byte ${start} has no place on the drive`);
  }

  /**
   * Checks `data`, the bytes at logical address `logical` that the extent
   * copier is about to write, which need not be whole sectors: the whole
   * sectors inside are checked as they are; a sector it holds only part of
   * (a copy step's edge, a file's last bytes) is read whole, must hold the
   * same bytes where they overlap, and is checked. The copier reads a
   * file's first copy; where that is damaged and the chunk is DUP, `data`
   * is replaced by the second copy's bytes, checked (readChecked).
   */
  private async checkPart(logical: number, data: Buffer): Promise<void> {
    try {
      await this.checkFirstCopy(logical, data);
    } catch (err) {
      if (!(err instanceof BtrfsDataDamage) || this.trees.map.physical(logical, data.length).length < 2) throw err;
      const sector = this.sums.sectorSize;
      const start = logical - (logical % sector);
      const whole = await this.readChecked(start, Math.ceil((logical + data.length - start) / sector) * sector);
      whole.copy(data, 0, logical - start, logical - start + data.length);
    }
  }

  private async checkFirstCopy(logical: number, data: Buffer): Promise<void> {
    const sector = this.sums.sectorSize;
    const end = logical + data.length;
    const first = Math.ceil(logical / sector) * sector;
    const last = Math.floor(end / sector) * sector;
    if (last > first) await this.sums.check(first, data.subarray(first - logical, last - logical));
    const partial = new Set<number>();
    if (logical % sector !== 0) partial.add(logical - (logical % sector));
    if (end % sector !== 0) partial.add(end - (end % sector));
    for (const at of partial) {
      const whole = await this.readLogical(at, sector);
      const from = Math.max(at, logical);
      const to = Math.min(at + sector, end);
      if (!whole.subarray(from - at, to - at).equals(data.subarray(from - logical, to - logical))) throw new BtrfsDataDamage(`its data at logical byte ${from} reads differently twice`);
      await this.sums.check(at, whole);
    }
  }

  /** Logical bytes, read from their first copy. */
  private readLogical(logical: number, length: number): Promise<Buffer> {
    const [place] = this.trees.map.physical(logical, length);
    return this.volume.read(place!.start, length);
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError(`bad read of ${length} bytes at ${offset}`);
    const ref = refOf(file);
    return this.wrap(file, async () => {
      const inode = await this.inode(ref);
      if ((inode.mode & S_IFMT) === S_IFDIR) throw new Error(`"${file.name}" is a folder`);
      const end = Math.min(inode.size, offset + length);
      const out = Buffer.alloc(Math.max(0, end - offset));
      for (const e of await this.extentsOf(ref)) {
        const from = Math.max(offset, e.fileOffset);
        const to = Math.min(end, e.fileOffset + e.length);
        if (from >= to) continue;
        const bytes = await this.extentBytes(e, from - e.fileOffset, to - from, inode.dataSums);
        bytes.copy(out, from - offset);
      }
      return out;
    });
  }

  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    const ref = refOf(file);
    return this.wrap(file, async () => {
      const inode = await this.inode(ref);
      if ((inode.mode & S_IFMT) !== S_IFREG) return null;
      const out: FileExtent[] = [];
      for (const e of await this.extentsOf(ref)) {
        if (e.inline || e.compression) return null;
        if (e.diskBytenr === 0 || e.fileOffset >= inode.size) continue;
        const length = Math.min(e.length, inode.size - e.fileOffset);
        const logical = e.diskBytenr + e.extentOffset;
        const [place] = this.trees.map.physical(logical, length);
        out.push({
          offset: e.fileOffset,
          length,
          volumeOffset: place!.start,
          ...(inode.dataSums ? { check: (at: number, data: Buffer) => this.wrap(file, () => this.checkPart(logical + at, data)) } : {}),
        });
      }
      return out;
    });
  }

  async readlink(link: FileEntry): Promise<string> {
    const ref = refOf(link);
    const inode = await this.wrap(link, () => this.inode(ref));
    if ((inode.mode & S_IFMT) !== S_IFLNK) throw new Error(`"${link.name}" is not a symbolic link`);
    if (inode.size > MAX_LINK) throw new Error(`"${link.name}": its target is ${inode.size} bytes long`);
    return utf8.decode(await this.read(link, 0, inode.size));
  }
}

/** Opens a btrfs volume for listing and reading; throws an Error with a user-facing message when it cannot. */
export async function openBtrfs(volume: Volume): Promise<FilesystemView> {
  try {
    const { sb, trees } = await loadBtrfs(volume, true);
    const warnings: string[] = [];
    if (sb.logRoot !== 0) warnings.push('btrfs was not unmounted cleanly: what was written and fsynced after its last commit is in its log tree, which Imprint does not replay, and is not listed');
    const view = new BtrfsView(volume, sb, trees, warnings);
    await view.openTop();
    return view;
  } catch (err) {
    if (err instanceof BtrfsProblem || err instanceof VolumeRangeError) throw new Error(`cannot read this btrfs filesystem: ${err.message}`);
    throw err;
  }
}
