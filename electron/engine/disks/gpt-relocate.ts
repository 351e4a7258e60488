import * as zlib from 'zlib';
import { readFully, writeFully } from '../io/full-io';

/**
 * A GPT keeps a backup header in the drive's last sector and its partition
 * array just before it. An image restored onto a larger drive leaves both at
 * the old end, in the middle of the new drive: tools then report a damaged
 * table, and the space beyond is unusable. This moves them to the new end,
 * as `sgdisk -e` does, and fixes the primary header and the protective MBR.
 */

export interface GptRelocation {
  /** Last LBA before and after. */
  fromLastLba: number;
  toLastLba: number;
}

const SIGNATURE = 'EFI PART';

function readSectors(fd: number, lba: number, count: number, sector: number): Buffer {
  const buf = Buffer.alloc(count * sector);
  const n = readFully(fd, buf, 0, buf.length, lba * sector);
  if (n !== buf.length) throw new Error(`the drive ended inside its GPT (LBA ${lba})`);
  return buf;
}

function headerCrc(header: Buffer, size: number): number {
  const copy = Buffer.from(header.subarray(0, size));
  copy.writeUInt32LE(0, 16);
  return zlib.crc32(copy) >>> 0;
}

/**
 * Moves the backup GPT of the drive open at `fd` (read-write, buffered) to
 * its last sector when the table ends before it. Returns what it did, or null
 * when there is no valid GPT or nothing to move. The caller fsyncs.
 */
export function relocateBackupGpt(fd: number, driveSize: number, sector: number): GptRelocation | null {
  const primary = readSectors(fd, 1, 1, sector);
  if (primary.subarray(0, 8).toString('latin1') !== SIGNATURE) return null;
  const headerSize = primary.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sector || headerCrc(primary, headerSize) !== primary.readUInt32LE(16)) return null;
  const oldAlternate = Number(primary.readBigUInt64LE(32));
  const entryLba = Number(primary.readBigUInt64LE(72));
  const entries = primary.readUInt32LE(80);
  const entrySize = primary.readUInt32LE(84);
  if (entrySize < 128 || entrySize > 4096 || entries > 65536) return null;
  const arraySectors = Math.ceil((entries * entrySize) / sector);
  const lastLba = Math.floor(driveSize / sector) - 1;
  if (oldAlternate >= lastLba || arraySectors + 2 > lastLba) return null;

  const array = readSectors(fd, entryLba, arraySectors, sector);
  if (zlib.crc32(array.subarray(0, entries * entrySize)) >>> 0 !== primary.readUInt32LE(88)) return null;
  const backupArrayLba = lastLba - arraySectors;
  const newLastUsable = backupArrayLba - 1;

  const update = (h: Buffer, myLba: number, alternate: number, arrayLba: number): Buffer => {
    const out = Buffer.from(h);
    out.writeBigUInt64LE(BigInt(myLba), 24);
    out.writeBigUInt64LE(BigInt(alternate), 32);
    out.writeBigUInt64LE(BigInt(newLastUsable), 48);
    out.writeBigUInt64LE(BigInt(arrayLba), 72);
    out.writeUInt32LE(headerCrc(out, headerSize), 16);
    return out;
  };
  // The new backup first, then the primary that points at it: a stop in between leaves a valid primary.
  writeFully(fd, array, backupArrayLba * sector);
  writeFully(fd, update(primary, lastLba, 1, backupArrayLba), lastLba * sector);
  writeFully(fd, update(primary, 1, lastLba, entryLba), sector);
  // The old backup header now lies inside the usable area: a stale "EFI PART" there only misleads.
  if (oldAlternate > 1) writeFully(fd, Buffer.alloc(sector), oldAlternate * sector);
  fixProtectiveMbr(fd, lastLba);
  return { fromLastLba: oldAlternate, toLastLba: lastLba };
}

/** The protective MBR's 0xEE entry covers the whole drive (or as much as 32 bits say). */
function fixProtectiveMbr(fd: number, lastLba: number): void {
  const mbr = Buffer.alloc(512);
  if (readFully(fd, mbr, 0, 512, 0) !== 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return;
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16;
    if (mbr[at + 4] === 0xee && mbr.readUInt32LE(at + 8) === 1) {
      mbr.writeUInt32LE(Math.min(lastLba, 0xffffffff), at + 12);
      writeFully(fd, mbr, 0);
      return;
    }
  }
}
