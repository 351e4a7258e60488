import * as zlib from 'zlib';
import type { PartitionInfo, PartitionTableInfo } from '../../../shared/backup-metadata';
import { looksLikeBootSector } from './filesystem-probe';

/**
 * Reads MBR and GPT partition tables from a drive's or image's bytes. Pure:
 * the caller supplies the bytes through `read`, synchronously, so the same
 * parser serves a drive, a raw image, and the head of a decompressed stream
 * (where bytes beyond what was kept are simply "not available").
 */

/** Bytes at `offset`, up to `length`; fewer (or null) when they are not available. */
export type ReadAt = (offset: number, length: number) => Uint8Array | null;

const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
/** A chain longer than this is a loop in a damaged table, not real partitions. */
const MAX_LOGICAL = 128;

export const MBR_TYPE_NAMES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x05: 'Extended',
  0x06: 'FAT16',
  0x07: 'HPFS/NTFS/exFAT',
  0x0b: 'W95 FAT32',
  0x0c: 'W95 FAT32 (LBA)',
  0x0e: 'W95 FAT16 (LBA)',
  0x0f: 'W95 Extended (LBA)',
  0x11: 'Hidden FAT12',
  0x17: 'Hidden HPFS/NTFS',
  0x1b: 'Hidden W95 FAT32',
  0x1c: 'Hidden W95 FAT32 (LBA)',
  0x27: 'Hidden NTFS WinRE',
  0x82: 'Linux swap',
  0x83: 'Linux',
  0x85: 'Linux extended',
  0x8e: 'Linux LVM',
  0xa5: 'FreeBSD',
  0xa8: 'Darwin UFS',
  0xaf: 'HFS / HFS+',
  0xee: 'GPT protective',
  0xef: 'EFI (FAT-12/16/32)',
  0xfd: 'Linux raid autodetect',
};

export const GPT_TYPE_NAMES: Record<string, string> = {
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b': 'EFI System',
  '21686148-6449-6e6f-744e-656564454649': 'BIOS boot',
  'e3c9e316-0b5c-4db8-817d-f92df00215ae': 'Microsoft reserved',
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7': 'Microsoft basic data',
  'de94bba4-06d1-4d40-a16a-bfd50179d6ac': 'Windows recovery environment',
  '0fc63daf-8483-4772-8e79-3d69d8477de4': 'Linux filesystem',
  '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f': 'Linux swap',
  'e6d6d379-f507-44c2-a23c-238f2a3df928': 'Linux LVM',
  'a19d880f-05fc-4d3b-a006-743f0f84911e': 'Linux RAID',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709': 'Linux root (x86-64)',
  'b921b045-1df0-41c3-af44-4c6f280d3fae': 'Linux root (ARM-64)',
  '933ac7e1-2eb4-4f13-b844-0e14e2aef915': 'Linux home',
  'bc13c2ff-59e6-4262-a352-b275fd6f7172': 'Linux extended boot',
  '48465300-0000-11aa-aa11-00306543ecac': 'Apple HFS/HFS+',
  '7c3457ef-0000-11aa-aa11-00306543ecac': 'Apple APFS',
  '516e7cb6-6ecf-11d6-8ff8-00022d09712b': 'FreeBSD data',
  '83bd6b9d-7f41-11dc-be0b-001560b84f0f': 'FreeBSD boot',
};

/** A GUID as stored on disk (first three fields little-endian) in its usual text form. */
export function guidToString(b: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const bytes = Array.from(b.subarray(from, to));
    if (reverse) bytes.reverse();
    return bytes.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u64 = (dv: DataView, at: number): number => Number(dv.getBigUint64(at, true));

function readExact(read: ReadAt, offset: number, length: number): Uint8Array | null {
  const b = read(offset, length);
  return b && b.length >= length ? b.subarray(0, length) : null;
}

interface MbrEntry {
  status: number;
  type: number;
  startLba: number;
  sectors: number;
}

function mbrEntries(sector: Uint8Array): MbrEntry[] {
  const dv = view(sector);
  return [0, 1, 2, 3].map((i) => {
    const at = 446 + 16 * i;
    return { status: sector[at] as number, type: sector[at + 4] as number, startLba: dv.getUint32(at + 8, true), sectors: dv.getUint32(at + 12, true) };
  });
}

/** A sector that ends in 55 AA and whose four entries are plausible (not a filesystem's boot code). */
function isMbr(sector: Uint8Array): boolean {
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return false;
  const entries = mbrEntries(sector);
  if (entries.some((e) => e.status !== 0 && e.status !== 0x80)) return false;
  const used = entries.filter((e) => e.type !== 0);
  if (used.length === 0 || used.some((e) => e.startLba === 0 || e.sectors === 0)) return false;
  // A FAT or NTFS boot sector also ends in 55 AA; its "entries" are boot code.
  return !looksLikeBootSector(sector);
}

function mbrPartition(number: number, e: MbrEntry, baseLba: number, sectorSize: number): PartitionInfo {
  return {
    number,
    start: (baseLba + e.startLba) * sectorSize,
    size: e.sectors * sectorSize,
    type: e.type.toString(16).padStart(2, '0'),
    typeName: MBR_TYPE_NAMES[e.type] ?? null,
    name: null,
    uuid: null,
    bootable: e.status === 0x80,
    filesystem: null,
  };
}

function parseMbr(read: ReadAt, sector: Uint8Array): PartitionTableInfo {
  const sectorSize = 512;
  const notes: string[] = [];
  const partitions: PartitionInfo[] = [];
  let extended: MbrEntry | null = null;
  mbrEntries(sector).forEach((e, i) => {
    if (e.type === 0) return;
    partitions.push(mbrPartition(i + 1, e, 0, sectorSize));
    if (EXTENDED_TYPES.has(e.type) && !extended) extended = e;
  });
  const ext = extended as MbrEntry | null;
  if (ext) {
    // Logical partitions: a chain of EBRs, each giving one partition (relative
    // to itself) and the next EBR (relative to the extended partition).
    let ebrLba = ext.startLba;
    let number = 5;
    const seen = new Set<number>();
    while (number < 5 + MAX_LOGICAL) {
      if (seen.has(ebrLba)) {
        notes.push('The chain of logical partitions loops; it was read up to the repeat.');
        break;
      }
      seen.add(ebrLba);
      const ebr = readExact(read, ebrLba * sectorSize, sectorSize);
      if (!ebr) {
        notes.push(`Logical partitions were not read: their table at byte ${ebrLba * sectorSize} is beyond the part of the image that was examined.`);
        break;
      }
      if (ebr[510] !== 0x55 || ebr[511] !== 0xaa) {
        if (number === 5) notes.push('The extended partition holds no valid table of logical partitions.');
        else notes.push(`The logical partition table at byte ${ebrLba * sectorSize} is damaged.`);
        break;
      }
      const [logical, next] = mbrEntries(ebr) as [MbrEntry, MbrEntry];
      if (logical.type !== 0 && logical.sectors > 0) partitions.push(mbrPartition(number++, logical, ebrLba, sectorSize));
      if (next.type === 0 || next.startLba === 0) break;
      ebrLba = ext.startLba + next.startLba;
    }
  }
  const diskId = view(sector).getUint32(440, true).toString(16).padStart(8, '0');
  return { type: 'mbr', diskId, sectorSize, partitions, notes };
}

function parseGpt(read: ReadAt, sectorSize: number, header: Uint8Array): PartitionTableInfo {
  const dv = view(header);
  const notes: string[] = [];
  const headerSize = dv.getUint32(12, true);
  const diskId = guidToString(header.subarray(56, 72));
  if (headerSize >= 92 && headerSize <= sectorSize) {
    const copy = Buffer.from(header.subarray(0, headerSize));
    copy.writeUInt32LE(0, 16);
    if (zlib.crc32(copy) >>> 0 !== dv.getUint32(16, true)) {
      notes.push('The GPT header checksum does not match: the partition table is damaged.');
      return { type: 'gpt', diskId, sectorSize, partitions: [], notes };
    }
  } else {
    notes.push(`The GPT header states an impossible size (${headerSize} bytes): the partition table is damaged.`);
    return { type: 'gpt', diskId, sectorSize, partitions: [], notes };
  }
  const entriesLba = u64(dv, 72);
  const count = dv.getUint32(80, true);
  const entrySize = dv.getUint32(84, true);
  const partitions: PartitionInfo[] = [];
  if (entrySize < 128 || count > 4096) {
    notes.push('The GPT header describes impossible partition entries: the partition table is damaged.');
    return { type: 'gpt', diskId, sectorSize, partitions, notes };
  }
  const entries = read(entriesLba * sectorSize, count * entrySize);
  const available = entries ? Math.floor(entries.length / entrySize) : 0;
  if (available < count) notes.push(`Only ${available} of ${count} GPT entries could be read from the part of the image that was examined.`);
  if (entries && available === count && zlib.crc32(entries.subarray(0, count * entrySize)) >>> 0 !== dv.getUint32(88, true)) {
    notes.push('The checksum of the GPT partition entries does not match: the table may be damaged.');
  }
  for (let i = 0; i < available && entries; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const ev = view(e);
    const first = u64(ev, 32);
    const last = u64(ev, 40);
    const type = guidToString(e.subarray(0, 16));
    const rawName = Buffer.from(e.subarray(56, 128)).toString('utf16le');
    const nul = rawName.indexOf('\0');
    const name = nul >= 0 ? rawName.slice(0, nul) : rawName;
    partitions.push({
      number: i + 1,
      start: first * sectorSize,
      size: last >= first ? (last - first + 1) * sectorSize : 0,
      type,
      typeName: GPT_TYPE_NAMES[type] ?? null,
      name: name.length > 0 ? name : null,
      uuid: guidToString(e.subarray(16, 32)),
      // Attribute bit 2: "legacy BIOS bootable".
      bootable: (ev.getUint32(48, true) & 4) !== 0,
      filesystem: null,
    });
  }
  return { type: 'gpt', diskId, sectorSize, partitions, notes };
}

const EFI_PART = [0x45, 0x46, 0x49, 0x20, 0x50, 0x41, 0x52, 0x54];

/**
 * The drive's partition table, or null when there is none (a blank drive, a
 * filesystem written to the whole drive). GPT wins over its protective MBR;
 * both 512- and 4096-byte sectors are recognised.
 */
export function parsePartitionTable(read: ReadAt): PartitionTableInfo | null {
  const mbr = readExact(read, 0, 512);
  if (!mbr) return null;
  for (const sectorSize of [512, 4096]) {
    const header = readExact(read, sectorSize, 512);
    if (header && EFI_PART.every((b, i) => header[i] === b)) {
      // A GPT without a protective (or hybrid) MBR is still a GPT to Linux only if forced; require the MBR's 0xEE.
      const protective = mbr[510] === 0x55 && mbr[511] === 0xaa && mbrEntries(mbr).some((e) => e.type === 0xee);
      if (protective) return parseGpt(read, sectorSize, header);
    }
  }
  return isMbr(mbr) ? parseMbr(read, mbr) : null;
}

/** A ReadAt over bytes held in memory (the head of an image). */
export function readFromBuffer(buf: Uint8Array): ReadAt {
  return (offset, length) => (offset >= buf.length ? null : buf.subarray(offset, Math.min(buf.length, offset + length)));
}
