import { complementWithin, normalizeRanges, totalLength } from '../byte-ranges';
import type { AllocationMap, ByteRange } from '../filesystem-driver';
import { VolumeRangeError, type Volume } from '../volume';
import { logState } from './xfs-log';
import { XfsProblem, crcMatches, parseSuper, type XfsSuper } from './xfs-superblock';

/**
 * The used-block map of an XFS volume: everything but the free extents its
 * free-space B-trees (the by-block-number "bnobt" of each allocation group,
 * rooted in the group's AGF) record, so metadata, the internal log and the
 * AG free lists are all kept. Trusted only when the log is clean
 * (xfs-log.ts): a volume that was not unmounted, with a log on another
 * device or a realtime section, or whose B-tree blocks fail their checks
 * (magic, CRC, level, the block they say they are, their owner) or whose
 * free extents do not add up to the AGF's count, is copied whole with the
 * reason. Compared with `xfs_db`'s free-block count and, end to end, with
 * `xfs_repair -n` on a copy holding junk outside the map
 * (xfs-allocation.test.ts).
 */

const AGF_MAGIC = 0x58414746; // "XAGF"
const AGF_CRC_OFFSET = 216;
const BNO_MAGIC_V4 = 0x41425442; // "ABTB"
const BNO_MAGIC_V5 = 0x41423342; // "AB3B"
const SHORT_HEADER_V4 = 16;
const SHORT_HEADER_V5 = 56;
const BLOCK_CRC_OFFSET = 52;
const MAX_LEVELS = 8;

export async function xfsAllocation(volume: Volume): Promise<AllocationMap> {
  try {
    const sb = parseSuper(await volume.read(0, Math.min(4096, volume.size)));
    if (sb.realtimeBlocks !== 0) throw new XfsProblem('it has a realtime section on another device');
    const bytes = sb.dataBlocks * sb.blockSize;
    if (bytes > volume.size) throw new XfsProblem(`it claims ${bytes} bytes, but the partition holds ${volume.size}`);
    const log = await logState(volume, sb);
    if (!log.clean) throw new XfsProblem(`${log.reason}. Mount it once (that replays the log) and unmount it for a backup of only its used blocks`);
    const free: ByteRange[] = [];
    for (let ag = 0; ag < sb.agCount; ag++) free.push(...(await freeExtents(volume, sb, ag)));
    const used = complementWithin(normalizeRanges(free), 0, bytes);
    return { kind: 'used-blocks', filesystem: 'xfs', blockSize: sb.blockSize, usedBytes: totalLength(used), ranges: used };
  } catch (err) {
    if (err instanceof XfsProblem) return { kind: 'whole', filesystem: 'xfs', reason: `xfs: ${err.message}` };
    if (err instanceof VolumeRangeError) return { kind: 'whole', filesystem: 'xfs', reason: `xfs: its metadata points outside the partition (${err.message})` };
    throw err;
  }
}

/** The free extents of allocation group `ag`, as byte ranges of the volume, checked against the AGF's count. */
async function freeExtents(volume: Volume, sb: XfsSuper, ag: number): Promise<ByteRange[]> {
  const agStart = ag * sb.agBlocks * sb.blockSize;
  const agf = await volume.read(agStart + sb.sectorSize, sb.sectorSize);
  if (agf.readUInt32BE(0) !== AGF_MAGIC || agf.readUInt32BE(8) !== ag) throw new XfsProblem(`allocation group ${ag} has no valid free-space header`);
  if (sb.crc && !crcMatches(agf, AGF_CRC_OFFSET)) throw new XfsProblem(`the free-space header of allocation group ${ag} fails its checksum`);
  const length = agf.readUInt32BE(12);
  const lastAg = ag === sb.agCount - 1;
  if (length > sb.agBlocks || (!lastAg && length !== sb.agBlocks) || (lastAg && length !== sb.dataBlocks - ag * sb.agBlocks)) {
    throw new XfsProblem(`allocation group ${ag} claims ${length} blocks`);
  }
  const root = agf.readUInt32BE(16);
  const levels = agf.readUInt32BE(28);
  const freeBlocks = agf.readUInt32BE(52);
  if (levels < 1 || levels > MAX_LEVELS) throw new XfsProblem(`the free-space tree of allocation group ${ag} claims ${levels} levels`);
  const out: ByteRange[] = [];
  let counted = 0;
  let visited = 0;
  let previousEnd = 0;
  const header = sb.crc ? SHORT_HEADER_V5 : SHORT_HEADER_V4;
  const walk = async (agbno: number, level: number): Promise<void> => {
    if (agbno === 0 || agbno >= length) throw new XfsProblem(`the free-space tree of allocation group ${ag} points at block ${agbno}`);
    if (++visited > length) throw new XfsProblem(`the free-space tree of allocation group ${ag} loops`);
    const block = await volume.read(agStart + agbno * sb.blockSize, sb.blockSize);
    checkBlock(block, sb, ag, agbno, level);
    const count = block.readUInt16BE(6);
    if (level > 0) {
      const max = Math.floor((sb.blockSize - header) / 12);
      if (count > max) throw new XfsProblem(`a free-space tree node of allocation group ${ag} lists ${count} children`);
      // Keys (8 bytes each) for the most the block can hold, then the child pointers.
      for (let i = 0; i < count; i++) await walk(block.readUInt32BE(header + max * 8 + i * 4), level - 1);
      return;
    }
    if (header + count * 8 > sb.blockSize) throw new XfsProblem(`a free-space tree leaf of allocation group ${ag} lists ${count} records`);
    for (let i = 0; i < count; i++) {
      const start = block.readUInt32BE(header + i * 8);
      const blocks = block.readUInt32BE(header + i * 8 + 4);
      if (blocks === 0 || start < previousEnd || start + blocks > length) throw new XfsProblem(`a free extent of allocation group ${ag} (${start}+${blocks}) is impossible`);
      previousEnd = start + blocks;
      counted += blocks;
      out.push({ start: agStart + start * sb.blockSize, length: blocks * sb.blockSize });
    }
  };
  await walk(root, levels - 1);
  if (counted !== freeBlocks) throw new XfsProblem(`allocation group ${ag}'s free-space tree holds ${counted} free blocks, its header counts ${freeBlocks}`);
  return out;
}

function checkBlock(block: Buffer, sb: XfsSuper, ag: number, agbno: number, level: number): void {
  const magic = block.readUInt32BE(0);
  const where = `the free-space tree block ${agbno} of allocation group ${ag}`;
  if (magic !== (sb.crc ? BNO_MAGIC_V5 : BNO_MAGIC_V4)) throw new XfsProblem(`${where} is not one`);
  if (block.readUInt16BE(4) !== level) throw new XfsProblem(`${where} is at level ${block.readUInt16BE(4)}, not ${level}`);
  if (!sb.crc) return;
  if (!crcMatches(block, BLOCK_CRC_OFFSET)) throw new XfsProblem(`${where} fails its checksum`);
  // bb_blkno is in 512-byte units from the start of the volume; bb_owner is the AG.
  const daddr = ((ag * sb.agBlocks + agbno) * sb.blockSize) / 512;
  if (block.readBigUInt64BE(16) !== BigInt(daddr) || block.readUInt32BE(48) !== ag) throw new XfsProblem(`${where} says it lies elsewhere`);
}
