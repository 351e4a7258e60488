import type { AllocationMap, ByteRange } from '../filesystem-driver';
import type { Volume } from '../volume';
import { crc32c } from './checksums';
import {
  BG_BLOCK_UNINIT, groupBaseMetaBlocks, groupBlocks, groupFirstBlock, inodeTableBlocks, readGroupDescriptors, type GroupDesc,
} from './ext-groups';
import { journalBitmaps } from './ext-journal';
import { INCOMPAT, RO_COMPAT, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, hasGroupDescCsum, parseSuperblock, type ExtSuperblock } from './ext-superblock';

/**
 * The used-block map of an ext2/3/4 volume, read from its block bitmaps.
 * A group whose bitmap was never written (BLOCK_UNINIT) is computed the way
 * the kernel computes it on first use (fs/ext4/balloc.c,
 * ext4_init_block_bitmap): its fixed metadata at the start, plus its
 * bitmaps and inode table where they lie inside it. Block 0's boot area is
 * always kept. A journal that needs recovery adds the bitmaps it would
 * write (ext-journal.ts). Anything that does not check out gives `whole`.
 */

/** Appends block runs in ascending order, merging neighbours. */
class RunBuilder {
  readonly runs: { start: number; length: number }[] = [];
  add(start: number, length: number): void {
    const last = this.runs[this.runs.length - 1];
    if (last && last.start + last.length === start) last.length += length;
    else this.runs.push({ start, length });
  }
}

/** Adds the set bits among the first `count` of `bits`, as blocks from `base`. */
function addSetBits(bits: Uint8Array, count: number, base: number, out: RunBuilder): number {
  let used = 0;
  let runStart = -1;
  const close = (end: number) => {
    if (runStart >= 0) {
      out.add(base + runStart, end - runStart);
      used += end - runStart;
      runStart = -1;
    }
  };
  let i = 0;
  while (i < count) {
    const byte = bits[i >>> 3]!;
    if ((i & 7) === 0 && i + 8 <= count && (byte === 0 || byte === 0xff)) {
      if (byte === 0) close(i);
      else if (runStart < 0) runStart = i;
      i += 8;
      continue;
    }
    if (byte & (1 << (i & 7))) {
      if (runStart < 0) runStart = i;
    } else {
      close(i);
    }
    i++;
  }
  close(count);
  return used;
}

function setBit(bits: Uint8Array, i: number): void {
  bits[i >>> 3]! |= 1 << (i & 7);
}

/** The bitmap the kernel would build for a BLOCK_UNINIT group (ext4_init_block_bitmap). */
function uninitBitmap(sb: ExtSuperblock, g: number, desc: GroupDesc): Uint8Array {
  const bits = new Uint8Array(sb.blockSize);
  const first = groupFirstBlock(sb, g);
  const n = groupBlocks(sb, g);
  const meta = Math.min(groupBaseMetaBlocks(sb, g), n);
  for (let i = 0; i < meta; i++) setBit(bits, i);
  const mark = (block: number) => {
    if (block >= first && block < first + n) setBit(bits, block - first);
  };
  mark(desc.blockBitmap);
  mark(desc.inodeBitmap);
  const itb = inodeTableBlocks(sb);
  for (let b = desc.inodeTable; b < desc.inodeTable + itb; b++) mark(b);
  return bits;
}

/**
 * Groups read together: their bitmaps are fetched in as few reads as
 * possible (flex_bg packs them side by side) while memory stays bounded at
 * WINDOW x block size (16 MiB at most with 64 KiB blocks).
 */
const WINDOW = 256;
/** Largest single read when coalescing neighbouring bitmap blocks. */
const MAX_READ = 4 << 20;

async function readBitmaps(volume: Volume, sb: ExtSuperblock, blocks: number[]): Promise<Map<number, Buffer>> {
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[j - 1]! + 1 && (j - i + 1) * sb.blockSize <= MAX_READ) j++;
    const start = sorted[i]!;
    const buf = await volume.read(start * sb.blockSize, (j - i) * sb.blockSize);
    for (let k = i; k < j; k++) out.set(sorted[k]!, buf.subarray((k - i) * sb.blockSize, (k - i + 1) * sb.blockSize));
    i = j;
  }
  return out;
}

function bitmapChecksumOk(sb: ExtSuperblock, desc: GroupDesc, bits: Buffer): boolean {
  const c = crc32c(sb.csumSeed, bits.subarray(0, sb.blocksPerGroup / 8));
  return sb.descSize >= 64 ? c === desc.blockBitmapCsum : (c & 0xffff) === (desc.blockBitmapCsum & 0xffff);
}

function toByteRanges(runs: RunBuilder, blockSize: number): ByteRange[] {
  return runs.runs.map((r) => ({ start: r.start * blockSize, length: r.length * blockSize }));
}

export async function extAllocation(volume: Volume): Promise<AllocationMap> {
  if (volume.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return { kind: 'whole', filesystem: null, reason: 'the volume is too small for ext2/3/4' };
  const parsed = parseSuperblock(await volume.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE), volume.size);
  if (!parsed.ok) return { kind: 'whole', filesystem: null, reason: parsed.reason };
  const sb = parsed.sb;
  const whole = (reason: string): AllocationMap => ({ kind: 'whole', filesystem: sb.flavour, reason });
  const gd = await readGroupDescriptors(volume, sb);
  if (!gd.ok) return whole(gd.reason);
  const csums = hasGroupDescCsum(sb);
  // Until the journal is replayed, bitmaps, their checksums and the free
  // counts may disagree: the logged bitmaps are added instead of checking.
  const recovering = (sb.incompat & INCOMPAT.RECOVER) !== 0;
  const journal = recovering ? await journalBitmaps(volume, sb, gd.groups) : null;
  if (journal && !journal.ok) return whole(journal.reason);
  const logged = journal?.ok ? journal.bitmaps : new Map<number, Buffer[]>();
  const bitmapCsums = (sb.roCompat & RO_COMPAT.METADATA_CSUM) !== 0 && !recovering;

  const runs = new RunBuilder();
  // The boot area (block 0 with 1 KiB blocks, which belongs to no group).
  if (sb.firstDataBlock > 0) runs.add(0, sb.firstDataBlock);
  let usedBlocks = sb.firstDataBlock;
  for (let w = 0; w < sb.groupCount; w += WINDOW) {
    const end = Math.min(sb.groupCount, w + WINDOW);
    const wanted: number[] = [];
    for (let g = w; g < end; g++) {
      const desc = gd.groups[g]!;
      // While recovering, the descriptor on disk may be older than the bitmap
      // on disk (each goes home on its own): an "uninitialised" group's bitmap
      // block is read and added too, which can only add used blocks.
      if (!(csums && desc.flags & BG_BLOCK_UNINIT) || recovering) wanted.push(desc.blockBitmap);
    }
    const bitmaps = await readBitmaps(volume, sb, wanted);
    for (let g = w; g < end; g++) {
      const desc = gd.groups[g]!;
      const n = groupBlocks(sb, g);
      let bits: Uint8Array;
      if (csums && desc.flags & BG_BLOCK_UNINIT) {
        bits = uninitBitmap(sb, g, desc);
      } else {
        const read = bitmaps.get(desc.blockBitmap)!;
        if (bitmapCsums && !bitmapChecksumOk(sb, desc, read)) return whole(`${sb.flavour}: group ${g}'s block bitmap checksum does not match`);
        bits = read;
      }
      const copies = [...(logged.get(g) ?? [])];
      if (recovering && csums && desc.flags & BG_BLOCK_UNINIT) copies.push(bitmaps.get(desc.blockBitmap)!);
      if (copies.length > 0) {
        const merged = Uint8Array.from(bits);
        for (const c of copies) for (let i = 0; i < merged.length; i++) merged[i]! |= c[i]!;
        bits = merged;
      }
      const used = addSetBits(bits, n, groupFirstBlock(sb, g), runs);
      if (!recovering && n - used !== desc.freeBlocks) {
        return whole(`${sb.flavour}: group ${g}'s bitmap has ${n - used} free blocks but its descriptor says ${desc.freeBlocks} (run e2fsck)`);
      }
      usedBlocks += used;
    }
  }
  const ranges = toByteRanges(runs, sb.blockSize);
  // Block 0 always belongs to group 0 when blocks are larger than 1 KiB, and
  // group 0 always marks its superblock: check rather than assume.
  if (ranges[0]?.start !== 0 || ranges[0].length < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
    return whole(`${sb.flavour}: the block bitmap leaves the superblock unused`);
  }
  return { kind: 'used-blocks', filesystem: sb.flavour, blockSize: sb.blockSize, usedBytes: usedBlocks * sb.blockSize, ranges };
}
