/**
 * NTFS protects multi-sector records (FILE, INDX, RSTR, RCRD) against torn
 * writes with an update sequence array: the last two bytes of every 512-byte
 * stride hold the same update sequence number, and the real bytes are kept in
 * the array near the record's start. A stride whose tail differs was not
 * written completely: the record is damaged. (layout.h: NTFS_RECORD,
 * NTFS_BLOCK_SIZE.)
 */

/** The stride is 512 bytes whatever the sector size. */
export const NTFS_BLOCK_SIZE = 512;

/**
 * Checks `magic` and the update sequence of the record in `buf` (its whole
 * length is the record) and puts the real bytes back, in place. Returns null
 * when the record is whole, otherwise what is wrong with it.
 */
export function applyFixups(buf: Buffer, magic: string): string | null {
  if (buf.length < NTFS_BLOCK_SIZE || buf.length % NTFS_BLOCK_SIZE !== 0) return `record of ${buf.length} bytes`;
  const found = buf.toString('latin1', 0, 4);
  if (found === 'BAAD') return 'marked bad (an incomplete write was detected earlier)';
  if (found !== magic) {
    return buf.readUInt32LE(0) === 0 ? 'never written (all zeros)' : `no ${magic} signature`;
  }
  const usaOffset = buf.readUInt16LE(4);
  const usaCount = buf.readUInt16LE(6);
  const strides = buf.length / NTFS_BLOCK_SIZE;
  // The array is one USN plus one saved pair per stride, and must sit in the
  // first stride (it is read before any fix-up is applied).
  if (usaCount !== strides + 1 || usaOffset % 2 !== 0 || usaOffset < 8 || usaOffset + usaCount * 2 > NTFS_BLOCK_SIZE - 2) {
    return `update sequence array out of place (offset ${usaOffset}, count ${usaCount})`;
  }
  const usn = buf.readUInt16LE(usaOffset);
  for (let i = 0; i < strides; i++) {
    const tail = (i + 1) * NTFS_BLOCK_SIZE - 2;
    if (buf.readUInt16LE(tail) !== usn) return `torn write: sector ${i} of the record does not carry the update sequence number`;
  }
  for (let i = 0; i < strides; i++) {
    const tail = (i + 1) * NTFS_BLOCK_SIZE - 2;
    buf.writeUInt16LE(buf.readUInt16LE(usaOffset + 2 + i * 2), tail);
  }
  return null;
}
