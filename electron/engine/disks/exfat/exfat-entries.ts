/**
 * exFAT directory entries (specification section 6-7), decoded from a whole
 * directory's bytes: the root's special entries (allocation bitmap, up-case
 * table, volume label) and file entry sets (file 0x85, stream extension 0xC0,
 * file names 0xC1). A set whose checksum or shape is wrong is reported and
 * skipped; nothing here throws on bad bytes.
 */

/** Where a stream's clusters are: `contiguous` (NoFatChain) or a FAT chain from `firstCluster`. */
export interface ExfatStream {
  firstCluster: number;
  dataLength: number;
  /** Bytes past this read as zeros (ValidDataLength). */
  validLength: number;
  contiguous: boolean;
}

export interface ExfatFileEntry {
  name: string;
  directory: boolean;
  attributes: number;
  stream: ExfatStream;
  /** Last modified, ms since 1970 (UTC). */
  mtimeMs: number | undefined;
}

export interface ExfatDirectory {
  files: ExfatFileEntry[];
  /** Allocation bitmaps (BitmapFlags bit 0 says which FAT's) and up-case tables: root only. */
  bitmaps: { which: number; stream: ExfatStream }[];
  upcase: ExfatStream[];
  label: string | null;
  problems: string[];
}

const ENTRY = 32;

export function entrySetChecksum(b: Buffer, at: number, entries: number): number {
  let sum = 0;
  const end = at + entries * ENTRY;
  for (let i = at; i < end; i++) {
    if (i === at + 2 || i === at + 3) continue;
    sum = ((sum & 1 ? 0x8000 : 0) + (sum >>> 1) + (b[i] as number)) & 0xffff;
  }
  return sum;
}

/**
 * An exFAT timestamp (local date and time, 2 s steps), its 10 ms increment,
 * and its UTC offset byte (bit 7: valid; bits 0-6: signed quarter hours),
 * as ms since 1970 UTC. Without a valid offset the local time is taken as
 * UTC: the volume does not say which zone wrote it.
 */
export function exfatTime(ts: number, tenMs: number, utcOffset: number): number | undefined {
  if (ts === 0) return undefined;
  const year = 1980 + (ts >>> 25);
  const month = (ts >>> 21) & 0xf;
  const day = (ts >>> 16) & 0x1f;
  const hour = (ts >>> 11) & 0x1f;
  const minute = (ts >>> 5) & 0x3f;
  const second = (ts & 0x1f) * 2;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second) + Math.min(tenMs, 199) * 10;
  if (utcOffset & 0x80) {
    const quarters = utcOffset & 0x40 ? (utcOffset & 0x7f) - 0x80 : utcOffset & 0x7f;
    ms -= quarters * 15 * 60_000;
  }
  return ms;
}

function streamAt(b: Buffer, at: number, flagsAt: number): ExfatStream {
  const flags = b[at + flagsAt] as number;
  const dataLength = Number(b.readBigUInt64LE(at + 24));
  return { firstCluster: b.readUInt32LE(at + 20), dataLength, validLength: dataLength, contiguous: (flags & 2) !== 0 };
}

/** Decodes the entries of one directory (its bytes, in order). */
export function parseExfatDirectory(b: Buffer, isRoot: boolean): ExfatDirectory {
  const out: ExfatDirectory = { files: [], bitmaps: [], upcase: [], label: null, problems: [] };
  const problem = (at: number, what: string) => {
    if (out.problems.length < 20) out.problems.push(`entry ${at / ENTRY}: ${what}`);
  };
  for (let at = 0; at + ENTRY <= b.length; ) {
    const type = b[at] as number;
    if (type === 0) break; // end of directory
    if (type < 0x80 || type >= 0xc0) {
      at += ENTRY; // deleted entry, or a secondary outside any set
      continue;
    }
    if (isRoot && type === 0x81) {
      out.bitmaps.push({ which: (b[at + 1] as number) & 1, stream: { ...streamAt(b, at, 1), contiguous: true } });
    } else if (isRoot && type === 0x82) {
      out.upcase.push({ ...streamAt(b, at, 1), contiguous: true });
    } else if (isRoot && type === 0x83) {
      const chars = Math.min(b[at + 1] as number, 11);
      out.label = chars > 0 ? b.toString('utf16le', at + 2, at + 2 + chars * 2) : null;
    } else if (type === 0x85) {
      const secondaries = b[at + 1] as number;
      const file = parseFileSet(b, at, secondaries, (what) => problem(at, what));
      // A set that does not check out is stepped over one entry at a time:
      // its secondaries are then skipped as strays, and a wrong count cannot hide what follows.
      if (file) out.files.push(file);
      at += ENTRY * (file ? 1 + secondaries : 1);
      continue;
    } else if (type >= 0xa0) {
      // A benign primary (GUID, padding, ACL...): skip it and its secondaries.
      at += ENTRY * (1 + (b[at + 1] as number));
      continue;
    } else {
      problem(at, `unknown critical entry type 0x${type.toString(16)}`);
    }
    at += ENTRY;
  }
  return out;
}

function parseFileSet(b: Buffer, at: number, secondaries: number, problem: (what: string) => void): ExfatFileEntry | null {
  if (secondaries < 2) return problem(`a file entry with ${secondaries} secondary entries`), null;
  if (at + (secondaries + 1) * ENTRY > b.length) return problem('a file entry set runs past the directory'), null;
  for (let i = 1; i <= secondaries; i++) {
    if (((b[at + i * ENTRY] as number) & 0x80) === 0) return problem('a file entry set with an unused entry inside'), null;
  }
  if (entrySetChecksum(b, at, secondaries + 1) !== b.readUInt16LE(at + 2)) return problem('a file entry set whose checksum does not match'), null;
  const s = at + ENTRY;
  if (b[s] !== 0xc0) return problem('a file entry set without its stream extension'), null;
  const nameLength = b[s + 3] as number;
  const nameEntries = Math.ceil(nameLength / 15);
  if (nameLength === 0 || nameEntries > secondaries - 1) return problem(`a name of ${nameLength} characters in ${secondaries - 1} entries`), null;
  const parts: string[] = [];
  for (let i = 0; i < nameEntries; i++) {
    const n = s + ENTRY * (1 + i);
    if (b[n] !== 0xc1) return problem('a file name entry is missing'), null;
    parts.push(b.toString('utf16le', n + 2, n + 2 + 2 * Math.min(15, nameLength - 15 * i)));
  }
  const attributes = b.readUInt16LE(at + 4);
  const stream = streamAt(b, s, 1);
  stream.validLength = Math.min(Number(b.readBigUInt64LE(s + 8)), stream.dataLength);
  if (((b[s + 1] as number) & 1) === 0) stream.firstCluster = 0; // AllocationPossible clear: no clusters at all
  return {
    name: parts.join(''),
    directory: (attributes & 0x10) !== 0,
    attributes,
    stream,
    mtimeMs: exfatTime(b.readUInt32LE(at + 12), b[at + 21] as number, b[at + 23] as number),
  };
}
