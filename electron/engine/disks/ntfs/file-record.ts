import type { FileEntry } from '../filesystem-driver';
import type { AttributeStream } from './attribute-stream';
import { FILE_ATTR_DIRECTORY, FILE_ATTR_REPARSE_POINT, ntTimeToMs, type FileNameKey } from './directory-index';
import { AT_DATA, AT_REPARSE_POINT, AT_STANDARD_INFORMATION, findAttributes, type MftRecord } from './mft-record';
import type { NtfsReader } from './ntfs-reader';
import { NtfsFormatError } from './runlist';

/**
 * What a listing shows of one file, from its MFT record: kind, size,
 * modification time, and how to read it. Symbolic links come in two forms:
 * Windows reparse points (symlinks and junctions) and the Interix files
 * ntfs-3g writes for `ln -s` (a system file starting "IntxLNK\1").
 */

const FILE_ATTR_SYSTEM = 0x0004;
const IO_REPARSE_TAG_MOUNT_POINT = 0xa0000003;
const IO_REPARSE_TAG_SYMLINK = 0xa000000c;
/** Windows Overlay Filter: the file's data is compressed into a named stream (CompactOS, `compact /exe`). */
const IO_REPARSE_TAG_WOF = 0x80000017;
const INTERIX_SYMLINK = Buffer.from('IntxLNK\u0001', 'latin1');
/** Longest symlink target read (Windows paths are at most 32,767 UTF-16 units). */
const MAX_LINK_BYTES = 65_536 + 8;

/** The driver-private part of a FileEntry. */
export interface NtfsRef {
  record: number;
  sequence: number;
  /** Why the entry cannot be read: its record is damaged (the listing shows what its index key says), or its data is not where a plain file's is. */
  unreadable?: string;
  /** Where the link target lies, for symlinks. */
  link?: 'reparse' | 'interix';
}

export interface FileDetails {
  entry: FileEntry;
  /** Named $DATA streams (alternate data streams), which the view does not offer. */
  namedStreams: string[];
}

/** The unnamed $DATA of a file, or null (directories). */
export async function dataStream(reader: NtfsReader, rec: MftRecord): Promise<AttributeStream | null> {
  return reader.attributeStream(rec, AT_DATA);
}

/** The entry for index key `key`, from its MFT record. Throws NtfsFormatError if the record does not check out. */
export async function fileDetails(reader: NtfsReader, key: FileNameKey): Promise<FileDetails> {
  const rec = await reader.readRecord(key.record);
  if (!rec.inUse || rec.baseRecord !== 0) throw new NtfsFormatError(`MFT record ${key.record} is not a file in use`);
  if (key.sequence !== 0 && rec.sequence !== key.sequence) {
    throw new NtfsFormatError(`MFT record ${key.record} has been reused (sequence ${rec.sequence}, the directory expects ${key.sequence})`);
  }
  const ref: NtfsRef = { record: rec.number, sequence: rec.sequence };
  const [si] = findAttributes(rec.attributes, AT_STANDARD_INFORMATION);
  const siValue = si?.value;
  const mtimeMs = siValue !== undefined && siValue.length >= 0x24 ? ntTimeToMs(siValue.readBigUInt64LE(0x08)) : ntTimeToMs(key.mtime);
  const fileAttributes = siValue !== undefined && siValue.length >= 0x24 ? siValue.readUInt32LE(0x20) : key.fileAttributes;
  const namedStreams = rec.attributes.filter((a) => a.type === AT_DATA && a.name !== '').map((a) => a.name);
  const entry: FileEntry = { name: key.name, kind: 'file', size: 0, mtimeMs, ref };
  const isReparse = (fileAttributes & FILE_ATTR_REPARSE_POINT) !== 0 || findAttributes(rec.attributes, AT_REPARSE_POINT).length > 0;
  const tag = isReparse ? await reparseTag(reader, rec) : null;
  if (tag === IO_REPARSE_TAG_SYMLINK || tag === IO_REPARSE_TAG_MOUNT_POINT) {
    // Symlinks and junctions (directories that point elsewhere) alike.
    entry.kind = 'symlink';
    ref.link = 'reparse';
  } else if (rec.isDirectory) {
    entry.kind = 'directory';
  } else {
    const data = await dataStream(reader, rec);
    entry.size = data?.size ?? 0;
    if (tag === IO_REPARSE_TAG_WOF) {
      ref.unreadable = 'it is compressed by Windows (WOF/CompactOS), which this reader does not decode yet';
    } else if (isReparse) {
      // OneDrive placeholders, deduplicated files...: the unnamed stream is not (all of) the content.
      entry.kind = 'other';
      ref.unreadable = `it is a Windows reparse point (tag 0x${(tag ?? 0).toString(16)}), not a plain file`;
    } else if ((fileAttributes & FILE_ATTR_SYSTEM) !== 0 && data !== null && data.size >= 8 && data.size <= MAX_LINK_BYTES) {
      const head = await reader.read(data, 0, 8);
      if (head.equals(INTERIX_SYMLINK)) {
        entry.kind = 'symlink';
        ref.link = 'interix';
      } else if (head.toString('latin1', 0, 4) === 'Intx') {
        entry.kind = 'other'; // Interix device or socket
      }
    }
  }
  return { entry, namedStreams };
}

/** The entry for a key whose MFT record is damaged: what the index says, marked so reads fail with `damage`. */
export function entryFromKey(key: FileNameKey, damage: string): FileEntry {
  const ref: NtfsRef = { record: key.record, sequence: key.sequence, unreadable: damage };
  const isDir = (key.fileAttributes & FILE_ATTR_DIRECTORY) !== 0;
  return { name: key.name, kind: isDir ? 'directory' : 'file', size: isDir ? 0 : key.dataSize, mtimeMs: ntTimeToMs(key.mtime), ref };
}

async function reparseValue(reader: NtfsReader, rec: MftRecord): Promise<Buffer | null> {
  const s = await reader.attributeStream(rec, AT_REPARSE_POINT);
  if (s === null) return null;
  return reader.readWhole(s, 16 * 1024, `the reparse point of MFT record ${rec.number}`);
}

async function reparseTag(reader: NtfsReader, rec: MftRecord): Promise<number | null> {
  const v = await reparseValue(reader, rec);
  return v !== null && v.length >= 8 ? v.readUInt32LE(0) : null;
}

/** The target of a symlink entry, as stored (Windows separators become '/'). */
export async function linkTarget(reader: NtfsReader, rec: MftRecord, kind: 'reparse' | 'interix'): Promise<string> {
  if (kind === 'interix') {
    const data = await dataStream(reader, rec);
    if (data === null) throw new NtfsFormatError(`the symlink in MFT record ${rec.number} has no target`);
    const v = await reader.readWhole(data, MAX_LINK_BYTES, `the symlink in MFT record ${rec.number}`);
    return v.toString('utf16le', 8, v.length - ((v.length - 8) % 2));
  }
  const v = await reparseValue(reader, rec);
  if (v === null || v.length < 16) throw new NtfsFormatError(`the reparse point of MFT record ${rec.number} is truncated`);
  const tag = v.readUInt32LE(0);
  // Reparse data after the 8-byte header: name offsets and lengths, then (symlinks only) 4 bytes of flags, then the names.
  const d = v.subarray(8, 8 + v.readUInt16LE(4));
  const buffer = tag === IO_REPARSE_TAG_SYMLINK ? 12 : 8;
  if (d.length < buffer) throw new NtfsFormatError(`the reparse point of MFT record ${rec.number} is truncated`);
  let off = d.readUInt16LE(4);
  let len = d.readUInt16LE(6);
  if (len === 0) {
    off = d.readUInt16LE(0); // no print name: use the substitute name
    len = d.readUInt16LE(2);
  }
  if (buffer + off + len > d.length) throw new NtfsFormatError(`the reparse point of MFT record ${rec.number} is malformed`);
  return d.toString('utf16le', buffer + off, buffer + off + len).replace(/\\/g, '/');
}
