import type { Volume } from '../volume';
import { XfsProblem, fsbToByte, type XfsSuper } from './xfs-superblock';

/**
 * Whether an XFS internal log is clean: the filesystem was unmounted, and
 * its last log record is the unmount record, so every change is in place
 * in the metadata and the free-space B-trees can be trusted. Otherwise a
 * mount would replay the log first, and blocks allocated by the
 * transactions only in the log would look free on disk.
 *
 * Following xlog_find_head and xlog_find_tail (fs/xfs/xfs_log_recover.c):
 * every 512-byte sector of the log starts with the cycle number of the pass
 * that wrote it (a record header has its magic first and the cycle second);
 * the head is where the cycle number drops (a binary search), and the
 * record just before it must be a single-operation record flagged
 * XLOG_UNMOUNT_TRANS that ends exactly at the head. Anything else, including
 * a log this reader cannot make sense of, counts as not clean: the volume
 * is then copied whole, which is never wrong.
 */

const BB = 512;
const RECORD_MAGIC = 0xfeedbabe;
const UNMOUNT_TRANS = 0x20;
/** A log record is at most 256 KiB of data plus its headers: the record before the head starts within this many sectors. */
const MAX_RECORD_SECTORS = (256 << 10) / BB + 8 * 2;
const HEADER_CYCLE_SIZE = 32 << 10;

export type LogState = { clean: true } | { clean: false; reason: string };

export async function logState(volume: Volume, sb: XfsSuper): Promise<LogState> {
  if (sb.logStart === 0) return { clean: false, reason: 'its log is on another device, which is not part of this drive' };
  const start = fsbToByte(sb, sb.logStart);
  const sectors = (sb.logBlocks * sb.blockSize) / BB;
  if (!Number.isSafeInteger(sectors) || sectors < 64 || start + sectors * BB > volume.size) throw new XfsProblem('its log lies outside the volume');
  const sector = (n: number): Promise<Buffer> => volume.read(start + ((n + sectors) % sectors) * BB, BB);
  const cycleOf = async (n: number): Promise<number> => {
    const b = await sector(n);
    return b.readUInt32BE(0) === RECORD_MAGIC ? b.readUInt32BE(4) : b.readUInt32BE(0);
  };

  // The head: the first sector of the older cycle, or the log's end when one cycle stamps it all.
  const first = await cycleOf(0);
  const last = await cycleOf(sectors - 1);
  let head: number;
  if (first === last) head = sectors;
  else {
    if (last !== first - 1) return { clean: false, reason: `its log's cycle numbers (${first} and ${last}) do not follow each other` };
    let lo = 0;
    let hi = sectors - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((await cycleOf(mid)) === first) lo = mid;
      else hi = mid;
    }
    head = hi;
  }

  // The last record header before the head.
  for (let back = 1; back <= Math.min(MAX_RECORD_SECTORS, sectors); back++) {
    const at = head - back;
    const h = await sector(at);
    if (h.readUInt32BE(0) !== RECORD_MAGIC) continue;
    const version = h.readInt32BE(8);
    const length = h.readInt32BE(12);
    const ops = h.readInt32BE(40);
    const size = h.readInt32BE(320);
    if ((version !== 1 && version !== 2) || length <= 0 || length > 256 << 10) return { clean: false, reason: 'its last log record header is malformed' };
    const headerSectors = version === 2 && size > HEADER_CYCLE_SIZE ? Math.ceil(size / HEADER_CYCLE_SIZE) : 1;
    const end = at + headerSectors + Math.ceil(length / BB);
    if (end !== head || ops !== 1) return { clean: false, reason: 'it was not unmounted cleanly (its log holds changes a mount would replay)' };
    // The operation header follows the record header; its flags lie past the first word, which the cycle stamp replaced.
    const op = await sector(at + headerSectors);
    if ((op.readUInt8(9) & UNMOUNT_TRANS) === 0) return { clean: false, reason: 'it was not unmounted cleanly (its log holds changes a mount would replay)' };
    return { clean: true };
  }
  return { clean: false, reason: 'its log has no record before its head' };
}
