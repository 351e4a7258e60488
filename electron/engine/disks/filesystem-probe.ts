import type { FilesystemInfo } from '../../../shared/backup-metadata';

/**
 * Recognises a filesystem from the first bytes of a partition, as blkid does:
 * by superblock magic numbers, then reads the label and UUID where they sit in
 * the superblock. Pure, and needs only PROBE_BYTES from the partition's start,
 * so it works on the head of a partition taken from a decompressed stream.
 */

/**
 * Bytes from a partition's start that every signature here fits in (btrfs's
 * superblock ends near 68 KiB). NTFS and exFAT labels sit further in: they
 * are read where the caller can reach them (a drive, a raw image).
 */
export const PROBE_BYTES = 72 * 1024;

/** Bytes at `offset` from the partition's start, up to `length`; fewer or null when not available. */
export type ProbeRead = (offset: number, length: number) => Uint8Array | null;

function bytesAt(read: ProbeRead, offset: number, length: number): Buffer | null {
  const b = read(offset, length);
  return b && b.length >= length ? Buffer.from(b.buffer, b.byteOffset, length) : null;
}

/** A NUL-terminated (or padded) string field; null when empty. */
function text(b: Buffer, encoding: BufferEncoding = 'latin1'): string | null {
  let s = b.toString(encoding);
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  s = s.trim();
  return s.length > 0 ? s : null;
}

/** 16 bytes as a UUID in byte order (ext, xfs, btrfs, swap store it that way). */
function uuid(b: Buffer): string | null {
  if (b.every((x) => x === 0)) return null;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** FAT and exFAT volume serials print as XXXX-XXXX, like blkid and Windows. */
function serial32(n: number): string {
  const h = n.toString(16).toUpperCase().padStart(8, '0');
  return `${h.slice(0, 4)}-${h.slice(4)}`;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** A FAT boot sector: jump instruction, then a BIOS parameter block with sane values. */
function isFat(s: Buffer): boolean {
  if (s.length < 512 || s[510] !== 0x55 || s[511] !== 0xaa) return false;
  if (s[0] !== 0xeb && s[0] !== 0xe9) return false;
  const bytesPerSector = s.readUInt16LE(11);
  return isPow2(bytesPerSector) && bytesPerSector >= 512 && bytesPerSector <= 4096 && isPow2(s[13] as number) && s.readUInt16LE(14) > 0 && (s[16] === 1 || s[16] === 2);
}

/** True when a drive's first sector is a filesystem's boot sector (FAT, NTFS, exFAT) rather than an MBR. */
export function looksLikeBootSector(sector: Uint8Array): boolean {
  const s = Buffer.from(sector.buffer, sector.byteOffset, Math.min(sector.length, 512));
  const oem = s.subarray(3, 11).toString('latin1');
  return oem === 'NTFS    ' || oem === 'EXFAT   ' || isFat(s);
}

const EXT4_INCOMPAT = 0x0040 | 0x0080 | 0x0100 | 0x0200 | 0x0400 | 0x1000 | 0x8000 | 0x10000;
const EXT4_RO_COMPAT = 0x0008 | 0x0010 | 0x0020 | 0x0040 | 0x0100 | 0x0200 | 0x0400;

function probeExt(read: ProbeRead): FilesystemInfo | null {
  const sb = bytesAt(read, 1024, 256);
  if (!sb || sb.readUInt16LE(56) !== 0xef53) return null;
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const roCompat = sb.readUInt32LE(0x64);
  const type = incompat & EXT4_INCOMPAT || roCompat & EXT4_RO_COMPAT ? 'ext4' : compat & 0x4 ? 'ext3' : 'ext2';
  return { type, label: text(sb.subarray(120, 136), 'utf8'), uuid: uuid(sb.subarray(104, 120)) };
}

function probeFat(read: ProbeRead): FilesystemInfo | null {
  const s = bytesAt(read, 0, 512);
  if (!s || !isFat(s)) return null;
  const fat32 = s.readUInt16LE(22) === 0;
  const [labelAt, serialAt, sigAt] = fat32 ? [71, 67, 66] : [43, 39, 38];
  // Extended boot signature 0x29 says the serial and label fields are present.
  if (s[sigAt] !== 0x29) return { type: 'vfat', label: null, uuid: null };
  const label = text(s.subarray(labelAt, labelAt + 11));
  return { type: 'vfat', label: label === 'NO NAME' ? null : label, uuid: serial32(s.readUInt32LE(serialAt)) };
}

/**
 * exFAT keeps its label in the root folder: a volume-label entry (type 0x83)
 * in the root directory's first cluster. Null when those bytes are not available.
 */
function exfatLabel(read: ProbeRead, s: Buffer): string | null {
  const sectorShift = s[108] as number;
  const clusterShift = s[109] as number;
  if (sectorShift < 9 || sectorShift > 12 || clusterShift > 16) return null;
  const clusterSize = 2 ** (sectorShift + clusterShift);
  const rootCluster = s.readUInt32LE(96);
  if (rootCluster < 2) return null;
  const root = read(s.readUInt32LE(88) * 2 ** sectorShift + (rootCluster - 2) * clusterSize, Math.min(clusterSize, 64 * 1024));
  if (!root) return null;
  for (let at = 0; at + 32 <= root.length; at += 32) {
    const type = root[at] as number;
    if (type === 0) break;
    if (type === 0x83) {
      const chars = Math.min(root[at + 1] as number, 11);
      return text(Buffer.from(root.buffer, root.byteOffset + at + 2, chars * 2), 'utf16le');
    }
  }
  return null;
}

/**
 * NTFS keeps its label in the $VOLUME_NAME attribute of MFT record 3 ($Volume).
 * Null when those bytes are not available or do not parse.
 */
function ntfsLabel(read: ProbeRead, s: Buffer): string | null {
  const sectorSize = s.readUInt16LE(11);
  const spc = s[13] as number;
  const clusterSize = sectorSize * (spc > 0x80 ? 2 ** (256 - spc) : spc);
  const perRecord = s.readInt8(0x40);
  const recordSize = perRecord < 0 ? 2 ** -perRecord : perRecord * clusterSize;
  if (!isPow2(sectorSize) || clusterSize === 0 || recordSize < 512 || recordSize > 65536) return null;
  const mft = Number(s.readBigUInt64LE(0x30)) * clusterSize;
  const raw = bytesAt(read, mft + 3 * recordSize, recordSize);
  if (!raw || raw.subarray(0, 4).toString('latin1') !== 'FILE') return null;
  const rec = Buffer.from(raw);
  // Update sequence: the last two bytes of every 512-byte stride were swapped out for a check value.
  const usaOffset = rec.readUInt16LE(4);
  const usaCount = rec.readUInt16LE(6);
  for (let i = 1; i < usaCount && usaOffset + 2 * i + 2 <= rec.length && i * 512 <= rec.length; i++) {
    rec.writeUInt16LE(rec.readUInt16LE(usaOffset + 2 * i), i * 512 - 2);
  }
  for (let at = rec.readUInt16LE(0x14); at + 24 <= rec.length; ) {
    const type = rec.readUInt32LE(at);
    const length = rec.readUInt32LE(at + 4);
    if (type === 0xffffffff || length < 24 || at + length > rec.length) break;
    if (type === 0x60 && rec[at + 8] === 0) {
      const valueLength = rec.readUInt32LE(at + 0x10);
      const valueOffset = rec.readUInt16LE(at + 0x14);
      return text(rec.subarray(at + valueOffset, at + valueOffset + valueLength), 'utf16le');
    }
    at += length;
  }
  return null;
}

function probeBootSectorKinds(read: ProbeRead): FilesystemInfo | null {
  const s = bytesAt(read, 0, 512);
  if (!s) return null;
  const oem = s.subarray(3, 11).toString('latin1');
  if (oem === 'NTFS    ') return { type: 'ntfs', label: ntfsLabel(read, s), uuid: s.readBigUInt64LE(0x48).toString(16).toUpperCase().padStart(16, '0') };
  if (oem === 'EXFAT   ') return { type: 'exfat', label: exfatLabel(read, s), uuid: serial32(s.readUInt32LE(100)) };
  return null;
}

function probeIso9660(read: ProbeRead): FilesystemInfo | null {
  const pvd = bytesAt(read, 0x8000, 2048);
  if (!pvd || pvd[0] !== 1 || pvd.subarray(1, 6).toString('latin1') !== 'CD001') return null;
  return { type: 'iso9660', label: text(pvd.subarray(40, 72)), uuid: null };
}

function probeAtMagic(read: ProbeRead): FilesystemInfo | null {
  const head = bytesAt(read, 0, 512);
  if (head) {
    const m4 = head.subarray(0, 4).toString('latin1');
    if (m4 === 'XFSB') return { type: 'xfs', label: text(head.subarray(108, 120)), uuid: uuid(head.subarray(32, 48)) };
    if (m4 === 'hsqs') return { type: 'squashfs', label: null, uuid: null };
    if (head.subarray(0, 6).equals(Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))) {
      return { type: 'crypto_LUKS', label: null, uuid: text(head.subarray(168, 208)) };
    }
  }
  const swap = bytesAt(read, 4096 - 10, 10);
  if (swap && (swap.toString('latin1') === 'SWAPSPACE2' || swap.toString('latin1') === 'SWAP-SPACE')) {
    const hdr = bytesAt(read, 1024, 44);
    return { type: 'swap', label: hdr ? text(hdr.subarray(28, 44)) : null, uuid: hdr ? uuid(hdr.subarray(12, 28)) : null };
  }
  const btrfs = bytesAt(read, 0x10000, 0x200);
  if (btrfs && btrfs.subarray(0x40, 0x48).toString('latin1') === '_BHRfS_M') {
    return { type: 'btrfs', label: text(btrfs.subarray(0x12b, 0x12b + 256), 'utf8'), uuid: uuid(btrfs.subarray(0x20, 0x30)) };
  }
  return null;
}

/**
 * The filesystem whose first bytes `read` gives, or null when none is
 * recognised (empty space, an unknown or encrypted format, bytes not available).
 */
export function probeFilesystem(read: ProbeRead): FilesystemInfo | null {
  return probeExt(read) ?? probeBootSectorKinds(read) ?? probeFat(read) ?? probeAtMagic(read) ?? probeIso9660(read);
}
