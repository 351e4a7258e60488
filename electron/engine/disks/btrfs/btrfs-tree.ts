import type { ByteRange } from '../filesystem-driver';
import type { Volume } from '../volume';
import { BtrfsProblem, CSUM_SIZE, checksumMatches, offsetAt, type BtrfsSuper } from './btrfs-superblock';

/**
 * btrfs's B-trees and its logical address space, read-only. Every tree
 * block is addressed logically; the chunk tree maps logical ranges to
 * places on the device (bootstrapped by the superblock's system chunk
 * array). Only one-device layouts are mapped: a chunk is "single" (one
 * stripe) or DUP (two copies on this device); anything striped or
 * mirrored across devices is refused, since the other devices are not
 * here. Each block read is checked (checksum, address, filesystem UUID,
 * level, generation) and a walk visits at most as many blocks as the volume
 * holds, each level one below its parent, so a crafted tree ends.
 */

const HEADER_SIZE = 0x65;
const KEY_SIZE = 17;
const ITEM_SIZE = KEY_SIZE + 8;
const KEY_PTR_SIZE = KEY_SIZE + 16;
const MAX_LEVEL = 7;
export const CHUNK_ITEM_KEY = 228;
/** Block group profile bits (btrfs_tree.h BTRFS_BLOCK_GROUP_*): all but DUP put stripes on other devices. */
const PROFILE_DUP = 1n << 5n;
const PROFILE_MASK = (1n << 3n) | (1n << 4n) | PROFILE_DUP | (1n << 6n) | (1n << 7n) | (1n << 8n) | (1n << 9n) | (1n << 10n);

export interface BtrfsKey {
  objectid: bigint;
  type: number;
  offset: bigint;
}

export interface LeafItem {
  key: BtrfsKey;
  data: Buffer;
}

interface Chunk {
  logical: number;
  length: number;
  /** Where each copy lies on this device. */
  copies: number[];
}

function keyAt(buf: Buffer, at: number): BtrfsKey {
  return { objectid: buf.readBigUInt64LE(at), type: buf.readUInt8(at + 8), offset: buf.readBigUInt64LE(at + 9) };
}

/** The logical to physical map of a one-device filesystem. */
export class ChunkMap {
  private chunks: Chunk[] = [];

  constructor(private readonly sb: BtrfsSuper) {}

  /** Adds the chunk item `item` keyed at logical address `logical` (from the system array or the chunk tree). */
  add(logical: bigint, item: Buffer): void {
    if (item.length < 48) throw new BtrfsProblem('a chunk item is truncated');
    const start = Number(logical);
    if (logical > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem(`a chunk starts at ${logical}, not a possible address`);
    const length = offsetAt(item, 0, 'chunk length');
    const type = item.readBigUInt64LE(24);
    const stripes = item.readUInt16LE(44);
    if (item.length < 48 + 32 * stripes || stripes === 0) throw new BtrfsProblem('a chunk item lists more stripes than it holds');
    const profile = type & PROFILE_MASK;
    if (profile !== 0n && profile !== PROFILE_DUP) throw new BtrfsProblem('it keeps data striped or mirrored across several devices (a RAID profile): the other devices are not part of this drive');
    if (stripes !== (profile === PROFILE_DUP ? 2 : 1)) throw new BtrfsProblem(`a ${profile === PROFILE_DUP ? 'DUP' : 'single'} chunk lists ${stripes} stripes`);
    const copies: number[] = [];
    for (let i = 0; i < stripes; i++) {
      const at = 48 + 32 * i;
      if (item.readBigUInt64LE(at) !== this.sb.devid) throw new BtrfsProblem('a chunk lies on another device of the filesystem');
      copies.push(offsetAt(item, at + 8, 'stripe offset'));
    }
    if (length === 0 || start + length > Number.MAX_SAFE_INTEGER) throw new BtrfsProblem('a chunk has an impossible length');
    const existing = this.chunks.find((c) => c.logical === start);
    if (existing) {
      if (existing.length !== length || existing.copies.join() !== copies.join()) throw new BtrfsProblem('two chunk items for one address disagree');
      return;
    }
    this.chunks.push({ logical: start, length, copies });
    this.chunks.sort((a, b) => a.logical - b.logical);
    for (let i = 1; i < this.chunks.length; i++) {
      const prev = this.chunks[i - 1]!;
      if (prev.logical + prev.length > this.chunks[i]!.logical) throw new BtrfsProblem('two chunks overlap');
    }
  }

  /** Reads the system chunk array of the superblock: (key, chunk item) pairs. */
  addSystemArray(array: Buffer): void {
    for (let at = 0; at < array.length; ) {
      if (at + KEY_SIZE + 48 > array.length) throw new BtrfsProblem('its system chunk array is truncated');
      const key = keyAt(array, at);
      if (key.type !== CHUNK_ITEM_KEY) throw new BtrfsProblem('its system chunk array holds something other than chunks');
      const stripes = array.readUInt16LE(at + KEY_SIZE + 44);
      const size = 48 + 32 * stripes;
      if (at + KEY_SIZE + size > array.length) throw new BtrfsProblem('its system chunk array is truncated');
      this.add(key.offset, array.subarray(at + KEY_SIZE, at + KEY_SIZE + size));
      at += KEY_SIZE + size;
    }
  }

  private chunkOf(logical: number, length: number): Chunk {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid]!;
      if (logical < c.logical) hi = mid - 1;
      else if (logical >= c.logical + c.length) lo = mid + 1;
      else {
        if (logical + length > c.logical + c.length) throw new BtrfsProblem(`bytes ${logical}+${length} run past the end of their chunk`);
        return c;
      }
    }
    throw new BtrfsProblem(`address ${logical} lies in no chunk`);
  }

  /** Where the logical bytes [logical, logical + length) lie on the device: one range per copy. */
  physical(logical: number, length: number): ByteRange[] {
    const c = this.chunkOf(logical, length);
    return c.copies.map((at) => ({ start: at + (logical - c.logical), length }));
  }
}

/** Orders keys as btrfs does: objectid, then type, then offset. */
export function compareKeys(a: BtrfsKey, b: BtrfsKey): number {
  if (a.objectid !== b.objectid) return a.objectid < b.objectid ? -1 : 1;
  if (a.type !== b.type) return a.type - b.type;
  return a.offset === b.offset ? 0 : a.offset < b.offset ? -1 : 1;
}

/** Tree blocks kept decoded (a view looks up the same inode and folder blocks again and again): 256 of at most 64 KiB. */
const CACHED_BLOCKS = 256;

/**
 * Reads and checks tree blocks, and walks trees. A walk visits each block
 * at most once per path from the root, each child one level below its
 * parent, and at most `budget` blocks in all (as many as the volume holds,
 * by default), so a crafted tree whose nodes share children ends too.
 */
export class TreeReader {
  /** Every tree block read, as logical addresses (their places are part of the used map). */
  readonly blocks: number[] = [];
  private readonly cache = new Map<number, Buffer>();

  constructor(
    private readonly volume: Volume,
    private readonly sb: BtrfsSuper,
    readonly map: ChunkMap,
    private readonly keepCache = false,
  ) {}

  private defaultBudget(): { left: number } {
    return { left: Math.max(16, Math.floor(this.volume.size / this.sb.nodeSize)) };
  }

  /** The tree block at `logical`, which must be at `level`. Where a DUP chunk's first copy does not check, the second is tried. */
  async block(logical: number, level: number, budget: { left: number }): Promise<Buffer> {
    if (--budget.left < 0) throw new BtrfsProblem('its trees hold more blocks than the volume (a loop in its metadata)');
    const cached = this.cache.get(logical);
    if (cached && cached.readUInt8(0x64) === level) {
      this.cache.delete(logical);
      this.cache.set(logical, cached);
      return cached;
    }
    let problem = '';
    for (const place of this.map.physical(logical, this.sb.nodeSize)) {
      const buf = await this.volume.read(place.start, this.sb.nodeSize);
      problem = this.check(buf, logical, level);
      if (problem === '') {
        if (this.keepCache) {
          this.cache.set(logical, buf);
          if (this.cache.size > CACHED_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
        } else this.blocks.push(logical);
        return buf;
      }
    }
    throw new BtrfsProblem(`its tree block at ${logical} ${problem}`);
  }

  private check(buf: Buffer, logical: number, level: number): string {
    if (checksumMatches(this.sb.csumType, buf) !== true) return 'fails its checksum';
    if (!buf.subarray(CSUM_SIZE, CSUM_SIZE + 16).equals(this.sb.treeFsid)) return 'belongs to another filesystem';
    if (buf.readBigUInt64LE(0x30) !== BigInt(logical)) return 'says it lies elsewhere';
    if (buf.readBigUInt64LE(0x50) > this.sb.generation) return 'is newer than the superblock (written after it)';
    if (buf.readUInt8(0x64) !== level) return `is at level ${buf.readUInt8(0x64)}, not ${level}`;
    return '';
  }

  /** Every item of the tree rooted at `root` (level `level`), in key order. */
  items(root: number, level: number): AsyncGenerator<LeafItem> {
    return this.range(root, level, null, null);
  }

  /** The items of a tree whose keys lie in [lo, hi] (null: no bound), in key order. */
  async *range(root: number, level: number, lo: BtrfsKey | null, hi: BtrfsKey | null, budget = this.defaultBudget()): AsyncGenerator<LeafItem> {
    if (level > MAX_LEVEL) throw new BtrfsProblem(`a tree claims ${level} levels`);
    const buf = await this.block(root, level, budget);
    const count = buf.readUInt32LE(0x60);
    if (level > 0) {
      if (HEADER_SIZE + count * KEY_PTR_SIZE > buf.length) throw new BtrfsProblem(`its tree node at ${root} lists more children than it holds`);
      // Child i holds the keys from its key up to the next child's: start at the last child whose key is not above `lo`.
      let first = 0;
      if (lo) for (let i = 1; i < count && compareKeys(keyAt(buf, HEADER_SIZE + i * KEY_PTR_SIZE), lo) <= 0; i++) first = i;
      for (let i = first; i < count; i++) {
        const at = HEADER_SIZE + i * KEY_PTR_SIZE;
        if (hi && i > first && compareKeys(keyAt(buf, at), hi) > 0) break;
        yield* this.range(offsetAt(buf, at + KEY_SIZE, 'tree block address'), level - 1, lo, hi, budget);
      }
      return;
    }
    if (HEADER_SIZE + count * ITEM_SIZE > buf.length) throw new BtrfsProblem(`its tree leaf at ${root} lists more items than it holds`);
    const dataArea = buf.length - HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const at = HEADER_SIZE + i * ITEM_SIZE;
      const key = keyAt(buf, at);
      if (lo && compareKeys(key, lo) < 0) continue;
      if (hi && compareKeys(key, hi) > 0) return;
      const offset = buf.readUInt32LE(at + KEY_SIZE);
      const size = buf.readUInt32LE(at + KEY_SIZE + 4);
      if (offset + size > dataArea || offset < count * ITEM_SIZE) throw new BtrfsProblem(`an item of its tree leaf at ${root} lies outside the leaf`);
      yield { key, data: buf.subarray(HEADER_SIZE + offset, HEADER_SIZE + offset + size) };
    }
  }
}
