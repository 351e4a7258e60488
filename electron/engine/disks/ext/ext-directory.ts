import { ExtCorruptError } from './ext-inode';

/**
 * Directory entries (Documentation/filesystems/ext4/directory.rst). Every
 * directory, hashed (htree) or not, is read as linear blocks of entries:
 * an htree's leaves are ordinary entry blocks, its root holds "." and ".."
 * with ".." spanning the index, and its inner index blocks look like one
 * empty entry (inode 0) covering the block. The metadata_csum tail is an
 * empty entry too. Checks are the kernel's (ext4_check_dir_entry).
 */

export interface RawDirent {
  ino: number;
  name: Buffer;
  /** The entry's file type byte (1 file, 2 directory, 7 symlink...), 0 when the filesystem has none. */
  fileType: number;
}

/** rec_len as stored; 64 KiB blocks encode their length in the low bits (ext4_rec_len_from_disk). */
function recLen(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 65535 || raw === 0) return blockSize;
  return (raw & 65532) | ((raw & 3) << 16);
}

/**
 * The entries of one directory block (or of one inline-data area),
 * `where` naming it for errors. Empty entries (inode 0) are left out.
 */
export function parseDirBlock(buf: Buffer, blockSize: number, hasFileType: boolean, inodesCount: number, where: string): RawDirent[] {
  const out: RawDirent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const bad = (what: string) => new ExtCorruptError(`${where}: damaged entry at byte ${pos} (${what})`);
    if (pos + 8 > buf.length) throw bad('truncated');
    const ino = buf.readUInt32LE(pos);
    const len = recLen(buf.readUInt16LE(pos + 4), blockSize);
    const nameLen = hasFileType ? buf[pos + 6]! : buf.readUInt16LE(pos + 6);
    if (len < 12) throw bad(`record length ${len} is below the minimum`);
    if (len % 4) throw bad(`record length ${len} is not a multiple of 4`);
    if (pos + len > buf.length) throw bad(`record length ${len} runs past the block`);
    if (8 + nameLen > len) throw bad(`name of ${nameLen} bytes does not fit its record of ${len}`);
    if (ino > inodesCount) throw bad(`inode ${ino} is beyond the ${inodesCount} the filesystem has`);
    if (ino !== 0 && nameLen > 0) {
      out.push({ ino, name: Buffer.from(buf.subarray(pos + 8, pos + 8 + nameLen)), fileType: hasFileType ? buf[pos + 7]! : 0 });
    }
    pos += len;
  }
  return out;
}
