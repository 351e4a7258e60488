/**
 * ECMA-119 (ISO 9660) structures: volume descriptors and directory records.
 * Every field is read from untrusted bytes; lengths are checked against the
 * buffer they come from, and block numbers against the image by the caller.
 * Both-endian fields are read from their little-endian half (a writer that
 * got the halves to disagree is wrong either way; Linux reads the LE half).
 */

/** Descriptors start here (sector 16 of 2048 bytes), after the system area. */
export const DESCRIPTORS_AT = 16 * 2048;
/** A logical sector: directory records never cross one, whatever the block size. */
export const SECTOR = 2048;
/** Descriptors read at most before giving up on a terminator (real discs have a handful). */
export const MAX_DESCRIPTORS = 64;

export const FLAG_DIRECTORY = 0x02;
export const FLAG_MULTI_EXTENT = 0x80;

export interface VolumeDescriptor {
  type: number;
  /** Joliet level (1..3) when this is a supplementary descriptor with a Joliet escape sequence, else 0. */
  joliet: number;
  volumeId: string;
  /** Blocks the filesystem claims, of `blockSize` bytes. */
  volumeBlocks: number;
  blockSize: number;
  root: DirectoryRecord;
}

export interface DirectoryRecord {
  /** Bytes the record takes in its directory (its first byte). */
  length: number;
  extAttrLength: number;
  extent: number;
  dataLength: number;
  mtimeMs: number | undefined;
  flags: number;
  interleaved: boolean;
  /** The identifier's raw bytes ("\0" is the folder itself, "\1" its parent). */
  identifier: Buffer;
  /** The system use area (SUSP / Rock Ridge entries live here). */
  systemUse: Buffer;
}

/** True when the 72 KiB head holds the "CD001" standard identifier of the first descriptor. */
export function looksLikeIso9660(head: Uint8Array): boolean {
  if (head.length < DESCRIPTORS_AT + 7) return false;
  const id = Buffer.from(head.buffer, head.byteOffset + DESCRIPTORS_AT + 1, 5).toString('latin1');
  return id === 'CD001' && head[DESCRIPTORS_AT + 6] === 1;
}

/**
 * A 7-byte ECMA-119 recording date (also Rock Ridge's short TF form): years
 * since 1900, month, day, hour, minute, second, and the offset from UTC in
 * 15-minute steps. All zeros means "not recorded".
 */
export function shortDate(b: Buffer, at: number): number | undefined {
  if (at + 7 > b.length) return undefined;
  const [y, mo, d, h, mi, s] = [b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!];
  if (mo === 0 || d === 0) return undefined;
  if (mo > 12 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  return Date.UTC(1900 + y, mo - 1, d, h, mi, s) - tzOffsetMs(b.readInt8(at + 6));
}

/** A 17-byte date ("YYYYMMDDHHMMSScc" in ASCII digits, then the UTC offset): descriptors and TF's long form. */
export function longDate(b: Buffer, at: number): number | undefined {
  if (at + 17 > b.length) return undefined;
  const digits = b.toString('latin1', at, at + 16);
  if (!/^\d{16}$/.test(digits)) return undefined;
  const n = (from: number, len: number): number => Number(digits.slice(from, from + len));
  const [y, mo, d] = [n(0, 4), n(4, 2), n(6, 2)];
  if (y === 0 || mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  return Date.UTC(y, mo - 1, d, n(8, 2), n(10, 2), n(12, 2), n(14, 2) * 10) - tzOffsetMs(b.readInt8(at + 16));
}

/** Offsets outside -48..+52 quarter hours are nonsense; such a time is taken as UTC. */
function tzOffsetMs(quarters: number): number {
  return quarters >= -48 && quarters <= 52 ? quarters * 15 * 60_000 : 0;
}

/**
 * The directory record at `at` in `b` (a whole sector or the descriptor's
 * root field), or a reason it is malformed. A length byte of 0 is the
 * caller's business (padding to the next sector).
 */
export function parseRecord(b: Buffer, at: number): DirectoryRecord | string {
  const length = b[at] ?? 0;
  if (length < 34) return `a directory record of ${length} bytes (at least 34)`;
  if (at + length > b.length) return 'a directory record runs past the end of its sector';
  const idLength = b[at + 32]!;
  if (33 + idLength > length) return 'a directory record whose name runs past its end';
  // The system use area starts after the name, padded to an even offset.
  const suStart = 33 + idLength + (idLength % 2 === 0 ? 1 : 0);
  return {
    length,
    extAttrLength: b[at + 1]!,
    extent: b.readUInt32LE(at + 2),
    dataLength: b.readUInt32LE(at + 10),
    mtimeMs: shortDate(b, at + 18),
    flags: b[at + 25]!,
    interleaved: b[at + 26] !== 0 || b[at + 27] !== 0,
    identifier: b.subarray(at + 33, at + 33 + idLength),
    systemUse: suStart < length ? b.subarray(at + suStart, at + length) : Buffer.alloc(0),
  };
}

const JOLIET_ESCAPES: Record<string, number> = { '%/@': 1, '%/C': 2, '%/E': 3 };

/**
 * A primary (type 1) or supplementary (type 2) descriptor in `b` (2048
 * bytes), or a reason it cannot be used. Other types return null.
 */
export function parseDescriptor(b: Buffer): VolumeDescriptor | string | null {
  const type = b[0]!;
  if (type !== 1 && type !== 2) return null;
  const blockSize = b.readUInt16LE(128);
  // ECMA-119 allows 2^n from 512 up to the sector size; anything else is not a real disc.
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) return `a logical block size of ${blockSize} bytes`;
  const root = parseRecord(b, 156);
  if (typeof root === 'string') return `its root folder record is malformed (${root})`;
  if (!(root.flags & FLAG_DIRECTORY)) return 'its root record is not a folder';
  let joliet = 0;
  if (type === 2) {
    const esc = b.toString('latin1', 88, 120);
    for (const [seq, level] of Object.entries(JOLIET_ESCAPES)) if (esc.includes(seq)) joliet = level;
  }
  const idBytes = b.subarray(40, 72);
  const volumeId = (joliet ? decodeUcs2(idBytes) : idBytes.toString('latin1')).replace(/[\s\0]+$/, '');
  return { type, joliet, volumeId, volumeBlocks: b.readUInt32LE(80), blockSize, root };
}

/** UCS-2 / UTF-16 big-endian (Joliet); a trailing odd byte is dropped. */
export function decodeUcs2(b: Buffer): string {
  const even = b.subarray(0, b.length - (b.length % 2));
  const le = Buffer.from(even);
  le.swap16();
  return le.toString('utf16le');
}

/**
 * A plain ISO 9660 or Joliet name as a file name: the ";1" version suffix
 * goes, and a trailing "." of a name without extension ("README." ->
 * "README"). Case is kept as stored (Linux shows plain ISO names lowercased).
 */
export function identifierName(id: Buffer, joliet: boolean, directory: boolean): string {
  let name = joliet ? decodeUcs2(id) : id.toString('latin1');
  if (!directory) {
    const semi = name.lastIndexOf(';');
    if (semi >= 0 && /^\d*$/.test(name.slice(semi + 1))) name = name.slice(0, semi);
    if (name.endsWith('.') && name.length > 1 && name !== '..') name = name.slice(0, -1);
  }
  return name;
}
