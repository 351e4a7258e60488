/**
 * FAT directory entries (fatgen103 section 6-7, and the VFAT long names):
 * 8.3 names with Windows NT's lower-case bits (byte 12), long names checked
 * against their short entry's checksum, times, first clusters. Pure: bytes
 * in, entries out; nothing here throws on bad bytes.
 */

export interface FatDirEntry {
  name: string;
  /** The 8.3 name as stored (for diagnostics). */
  shortName: string;
  directory: boolean;
  attributes: number;
  firstCluster: number;
  size: number;
  /** Last written, ms since 1970: the local time the volume stores, taken as UTC (FAT keeps no zone). */
  mtimeMs: number | undefined;
}

export interface FatDirectory {
  entries: FatDirEntry[];
  /** The root's volume-label entry, when there is one. */
  label: string | null;
  /** Long-name entries that did not belong to the short entry after them (ignored). */
  orphanLongNames: number;
}

const ENTRY = 32;
const ATTR_VOLUME = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = 0x0f;
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXT = 0x10;

/**
 * Code page 850's upper half. Short names are stored in an OEM code page the
 * volume does not record; 850 (Western European DOS/Windows, and mtools'
 * default) is taken. Linux mounts with 437 by default: the two differ only
 * in accented capitals and symbols, and long names (UTF-16) are unaffected.
 */
const OEM_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0';

function oemText(b: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    s += c < 0x80 ? String.fromCharCode(c) : OEM_HIGH[c - 0x80];
  }
  return s;
}

/** The checksum of an 11-byte short name that its long-name entries carry. */
export function shortNameChecksum(b: Buffer, at: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((sum & 1 ? 0x80 : 0) + (sum >> 1) + (b[at + i] as number)) & 0xff;
  return sum;
}

/** FAT date and time words (local time, 2 s steps) as ms since 1970, read as UTC. */
export function fatTime(date: number, time: number): number | undefined {
  const day = date & 0x1f;
  const month = (date >> 5) & 0x0f;
  const year = 1980 + (date >> 9);
  const second = (time & 0x1f) * 2;
  const minute = (time >> 5) & 0x3f;
  const hour = time >> 11;
  if (day < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The 13 UTF-16 characters of one long-name entry, in order. */
function longNameChars(b: Buffer, at: number): number[] {
  const out: number[] = [];
  for (const [from, to] of [[1, 11], [14, 26], [28, 32]] as const) {
    for (let i = at + from; i < at + to; i += 2) out.push(b.readUInt16LE(i));
  }
  return out;
}

/** Decodes one directory's bytes (the fixed root region, or a directory's clusters in chain order). */
export function parseFatDirectory(b: Buffer, fat32: boolean): FatDirectory {
  const out: FatDirectory = { entries: [], label: null, orphanLongNames: 0 };
  // Long-name entries come last-part first; `parts[k]` is part k+1's characters.
  let parts: number[][] = [];
  let expected = 0;
  let checksum = -1;
  const drop = () => {
    if (parts.length > 0) out.orphanLongNames++;
    parts = [];
    expected = 0;
    checksum = -1;
  };
  for (let at = 0; at + ENTRY <= b.length; at += ENTRY) {
    const first = b[at] as number;
    if (first === 0x00) break;
    if (first === 0xe5) {
      drop();
      continue;
    }
    const attributes = b[at + 11] as number;
    if ((attributes & 0x3f) === ATTR_LONG_NAME) {
      const order = first & 0x1f;
      if (first & 0x40) {
        drop();
        if (order >= 1 && order <= 20) {
          parts = new Array<number[]>(order);
          expected = order;
          checksum = b[at + 13] as number;
        }
      } else if (expected === 0 || order !== expected - 1 || b[at + 13] !== checksum) {
        drop();
        continue;
      }
      if (expected > 0) {
        expected = order;
        parts[order - 1] = longNameChars(b, at);
      }
      continue;
    }
    const long = expected === 1 && shortNameChecksum(b, at) === checksum ? parts.flat() : null;
    if (long === null) drop();
    parts = [];
    expected = 0;
    checksum = -1;
    if (attributes & ATTR_VOLUME) {
      if (!(attributes & ATTR_DIRECTORY) && out.label === null) out.label = oemText(b, at, at + 11).replace(/ +$/, '') || null;
      continue;
    }
    const raw = Buffer.from(b.subarray(at, at + 11));
    if (raw[0] === 0x05) raw[0] = 0xe5; // a real first byte 0xE5 is stored as 0x05
    const nt = b[at + 12] as number;
    let base = oemText(raw, 0, 8).replace(/ +$/, '');
    let ext = oemText(raw, 8, 11).replace(/ +$/, '');
    if (base === '.' || base === '..') continue;
    if (nt & NT_LOWER_BASE) base = base.toLowerCase();
    if (nt & NT_LOWER_EXT) ext = ext.toLowerCase();
    const shortName = ext ? `${base}.${ext}` : base;
    let name = shortName;
    if (long) {
      const end = long.indexOf(0);
      name = String.fromCharCode(...(end >= 0 ? long.slice(0, end) : long));
    }
    out.entries.push({
      name,
      shortName,
      directory: (attributes & ATTR_DIRECTORY) !== 0,
      attributes,
      firstCluster: (fat32 ? b.readUInt16LE(at + 20) * 0x10000 : 0) + b.readUInt16LE(at + 26),
      size: b.readUInt32LE(at + 28),
      mtimeMs: fatTime(b.readUInt16LE(at + 24), b.readUInt16LE(at + 22)),
    });
  }
  return out;
}
