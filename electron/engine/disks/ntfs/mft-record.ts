import { applyFixups } from './fixups';
import { decodeRunlist, NtfsFormatError, type Run } from './runlist';

/**
 * One MFT record (FILE record) and its attributes. Offsets from
 * tuxera/ntfs-3g include/ntfs-3g/layout.h (MFT_RECORD, ATTR_RECORD).
 */

export const AT_STANDARD_INFORMATION = 0x10;
export const AT_ATTRIBUTE_LIST = 0x20;
export const AT_FILE_NAME = 0x30;
export const AT_VOLUME_NAME = 0x60;
export const AT_VOLUME_INFORMATION = 0x70;
export const AT_DATA = 0x80;
export const AT_INDEX_ROOT = 0x90;
export const AT_INDEX_ALLOCATION = 0xa0;
export const AT_REPARSE_POINT = 0xc0;
const AT_END = 0xffffffff;

export const ATTR_COMPRESSION_MASK = 0x00ff;
export const ATTR_IS_ENCRYPTED = 0x4000;

const MFT_RECORD_IN_USE = 0x0001;
const MFT_RECORD_IS_DIRECTORY = 0x0002;

/** One attribute (or, for a non-resident attribute spread over records, one extent of it). */
export interface Attribute {
  type: number;
  name: string;
  flags: number;
  /** Resident value; undefined when non-resident. */
  value?: Buffer;
  /** Non-resident fields. */
  lowestVcn: number;
  highestVcn: number;
  runs: Run[];
  compressionUnit: number;
  allocatedSize: number;
  dataSize: number;
  initializedSize: number;
}

export interface MftRecord {
  number: number;
  sequence: number;
  inUse: boolean;
  isDirectory: boolean;
  /** Record number of the base record, 0 when this is one. */
  baseRecord: number;
  attributes: Attribute[];
}

/** MFT references: record number in the low 48 bits, sequence number in the high 16. */
export function mftRefRecord(ref: bigint): number {
  return Number(ref & 0xffffffffffffn);
}

function safeInt64(buf: Buffer, pos: number, what: string): number {
  const v = buf.readBigInt64LE(pos);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NtfsFormatError(`${what} is out of range`);
  return Number(v);
}

/**
 * Applies the fix-ups to `buf` (one record, modified in place) and parses its
 * attributes. Throws NtfsFormatError naming the record when anything is off.
 */
export function parseMftRecord(buf: Buffer, number: number, totalClusters: number): MftRecord {
  const where = `MFT record ${number}`;
  const damage = applyFixups(buf, 'FILE');
  if (damage !== null) throw new NtfsFormatError(`${where} is damaged: ${damage}`);
  const flags = buf.readUInt16LE(0x16);
  const bytesInUse = buf.readUInt32LE(0x18);
  const bytesAllocated = buf.readUInt32LE(0x1c);
  if (bytesAllocated !== buf.length || bytesInUse > buf.length || bytesInUse < 0x30) {
    throw new NtfsFormatError(`${where} is damaged: its sizes do not match the record size`);
  }
  // NTFS 3.1 records (update sequence array at 0x30) carry their own number: a record read from the wrong place shows.
  if (buf.readUInt16LE(4) >= 0x30 && buf.readUInt32LE(0x2c) !== number % 2 ** 32) {
    throw new NtfsFormatError(`${where} is damaged: it says it is record ${buf.readUInt32LE(0x2c)}`);
  }
  const record: MftRecord = {
    number,
    sequence: buf.readUInt16LE(0x10),
    inUse: (flags & MFT_RECORD_IN_USE) !== 0,
    isDirectory: (flags & MFT_RECORD_IS_DIRECTORY) !== 0,
    baseRecord: mftRefRecord(buf.readBigUInt64LE(0x20)),
    attributes: [],
  };
  let pos = buf.readUInt16LE(0x14);
  // Each attribute is at least 16 bytes long, so the record size bounds this loop.
  while (pos + 8 <= bytesInUse) {
    const type = buf.readUInt32LE(pos);
    if (type === AT_END) return record;
    const length = buf.readUInt32LE(pos + 4);
    if (length < 16 || length % 8 !== 0 || pos + length > bytesInUse) {
      throw new NtfsFormatError(`${where} is damaged: attribute 0x${type.toString(16)} has an invalid length`);
    }
    record.attributes.push(parseAttribute(buf.subarray(pos, pos + length), where, totalClusters));
    pos += length;
  }
  throw new NtfsFormatError(`${where} is damaged: its attribute list has no end marker`);
}

function parseAttribute(a: Buffer, where: string, totalClusters: number): Attribute {
  const type = a.readUInt32LE(0);
  const nonResident = a[8] !== 0;
  const nameLength = a[9] ?? 0;
  const nameOffset = a.readUInt16LE(10);
  if (nameLength > 0 && nameOffset + nameLength * 2 > a.length) {
    throw new NtfsFormatError(`${where} is damaged: an attribute name lies outside its attribute`);
  }
  const attr: Attribute = {
    type,
    name: nameLength > 0 ? a.toString('utf16le', nameOffset, nameOffset + nameLength * 2) : '',
    flags: a.readUInt16LE(12),
    lowestVcn: 0,
    highestVcn: -1,
    runs: [],
    compressionUnit: 0,
    allocatedSize: 0,
    dataSize: 0,
    initializedSize: 0,
  };
  if (!nonResident) {
    if (a.length < 0x18) throw new NtfsFormatError(`${where} is damaged: a resident attribute is too short`);
    const valueLength = a.readUInt32LE(0x10);
    const valueOffset = a.readUInt16LE(0x14);
    if (valueOffset + valueLength > a.length) throw new NtfsFormatError(`${where} is damaged: an attribute value lies outside its attribute`);
    attr.value = a.subarray(valueOffset, valueOffset + valueLength);
    attr.dataSize = valueLength;
    attr.initializedSize = valueLength;
    return attr;
  }
  if (a.length < 0x40) throw new NtfsFormatError(`${where} is damaged: a non-resident attribute is too short`);
  attr.lowestVcn = safeInt64(a, 0x10, `${where}: an attribute's first cluster`);
  const highest = a.readBigInt64LE(0x18);
  attr.highestVcn = highest === -1n ? -1 : safeInt64(a, 0x18, `${where}: an attribute's last cluster`);
  attr.compressionUnit = a[0x22] ?? 0;
  attr.allocatedSize = safeInt64(a, 0x28, `${where}: an attribute's allocated size`);
  attr.dataSize = safeInt64(a, 0x30, `${where}: an attribute's size`);
  attr.initializedSize = safeInt64(a, 0x38, `${where}: an attribute's initialized size`);
  const mappingOffset = a.readUInt16LE(0x20);
  if (mappingOffset < 0x40 || mappingOffset > a.length) throw new NtfsFormatError(`${where} is damaged: its runlist lies outside its attribute`);
  try {
    attr.runs = decodeRunlist(a, mappingOffset, a.length, attr.lowestVcn, totalClusters);
  } catch (err) {
    if (err instanceof NtfsFormatError) throw new NtfsFormatError(`${where} is damaged: ${err.message}`);
    throw err;
  }
  const end = attr.runs.length > 0 ? (attr.runs.at(-1) as Run).vcn + (attr.runs.at(-1) as Run).length : attr.lowestVcn;
  if (attr.highestVcn !== -1 && end !== attr.highestVcn + 1) {
    throw new NtfsFormatError(`${where} is damaged: its runlist covers clusters up to ${end}, not ${attr.highestVcn + 1}`);
  }
  return attr;
}

/** Attributes of one type and name (the unnamed ones by default). */
export function findAttributes(attrs: readonly Attribute[], type: number, name = ''): Attribute[] {
  return attrs.filter((a) => a.type === type && a.name === name);
}
