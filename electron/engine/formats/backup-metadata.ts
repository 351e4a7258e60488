import * as fs from 'fs';
import * as path from 'path';
import { asBackupMetadata, sidecarPathOf, type BackupCompression, type BackupMetadata } from '../../../shared/backup-metadata';
import { fsyncChecked, readFully, writeFully } from '../io/full-io';

/**
 * Keeping a backup's metadata inside the image without breaking ordinary
 * tools, and beside it in a sidecar file.
 *
 * - zstd: a skippable frame at the end of the file. Decoders skip it, so
 *   `zstd -dc` gives exactly the drive's bytes; it goes last because the
 *   SHA-256 is known only once the whole drive has been read.
 * - gzip: an extra gzip member that holds no data, its header's extra field
 *   carrying the metadata (RFC 1952 allows both); `gzip -dc` outputs nothing for it.
 * - xz and raw have no such place: the sidecar alone.
 *
 * Both embeddings start the payload with MARKER, and a reader checks that the
 * payload ends exactly at the end of the file, so compressed bytes that happen
 * to look like a header are not mistaken for metadata.
 */
export const MARKER = Buffer.from('IMPRINT\0', 'latin1');
/** Skippable frames use magics 0x184D2A50..5F; this one is Imprint's. */
export const ZSTD_METADATA_MAGIC = 0x184d2a5b;
/** Subfield ID of the gzip extra field (two letters, RFC 1952 section 2.3.1.1). */
const GZIP_SUBFIELD = Buffer.from('Im', 'latin1');
/** An XLEN is 16 bits, and the subfield header takes four of them. */
const GZIP_MAX_PAYLOAD = 0xffff - 4;
/** How far from the end a reader looks for embedded metadata. */
const TAIL_WINDOW = 256 * 1024;
/** An empty deflate stream (one final fixed-Huffman block), then CRC-32 and ISIZE of nothing. */
const GZIP_EMPTY_BODY = Buffer.from([0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);

export type MetadataSource = 'embedded' | 'sidecar';

/** The bytes to append to a compressed backup so it carries `meta`, or null where the format has no place. */
export function encodeEmbeddedMetadata(compression: BackupCompression, meta: BackupMetadata): Buffer | null {
  const payload = Buffer.concat([MARKER, Buffer.from(JSON.stringify(meta), 'utf8')]);
  if (compression === 'zstd') {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(ZSTD_METADATA_MAGIC, 0);
    head.writeUInt32LE(payload.length, 4);
    return Buffer.concat([head, payload]);
  }
  if (compression === 'gzip') {
    if (payload.length > GZIP_MAX_PAYLOAD) return null;
    // ID1 ID2 CM=deflate FLG=FEXTRA MTIME=0 XFL=0 OS=unknown, XLEN, then one subfield.
    const head = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0, 0, GZIP_SUBFIELD[0] as number, GZIP_SUBFIELD[1] as number, 0, 0]);
    head.writeUInt16LE(payload.length + 4, 10);
    head.writeUInt16LE(payload.length, 14);
    return Buffer.concat([head, payload, GZIP_EMPTY_BODY]);
  }
  return null;
}

function parsePayload(bytes: Buffer): BackupMetadata | null {
  if (!bytes.subarray(0, MARKER.length).equals(MARKER)) return null;
  try {
    return asBackupMetadata(JSON.parse(bytes.subarray(MARKER.length).toString('utf8')));
  } catch {
    return null;
  }
}

/** Finds metadata embedded at the end of `tail` (the last bytes of a file), for either format. */
export function decodeEmbeddedMetadata(tail: Buffer): BackupMetadata | null {
  let at = tail.lastIndexOf(MARKER);
  while (at >= 0) {
    // zstd: magic and length just before the marker, payload ending at the end.
    if (at >= 8 && tail.readUInt32LE(at - 8) === ZSTD_METADATA_MAGIC && at + tail.readUInt32LE(at - 4) === tail.length) {
      const meta = parsePayload(tail.subarray(at));
      if (meta) return meta;
    }
    // gzip: the member header's 16 bytes before the marker, the empty body after the payload.
    if (at >= 16 && tail[at - 16] === 0x1f && tail[at - 15] === 0x8b && tail[at - 13] === 0x04 && tail.subarray(at - 4, at - 2).equals(GZIP_SUBFIELD)) {
      const len = tail.readUInt16LE(at - 2);
      if (at + len + GZIP_EMPTY_BODY.length === tail.length && tail.readUInt16LE(at - 6) === len + 4) {
        const meta = parsePayload(tail.subarray(at, at + len));
        if (meta) return meta;
      }
    }
    at = at > 0 ? tail.lastIndexOf(MARKER, at - 1) : -1;
  }
  return null;
}

/** Metadata embedded in a backup file, or null. */
export function readEmbeddedMetadata(file: string): BackupMetadata | null {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, TAIL_WINDOW);
    const tail = Buffer.alloc(length);
    const n = readFully(fd, tail, 0, length, size - length);
    return decodeEmbeddedMetadata(tail.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/** Metadata from `file.json`, or null when there is none or it is not Imprint's. */
export function readSidecar(file: string): BackupMetadata | null {
  try {
    return asBackupMetadata(JSON.parse(fs.readFileSync(sidecarPathOf(file), 'utf8')));
  } catch {
    return null;
  }
}

export interface FoundMetadata {
  metadata: BackupMetadata;
  from: MetadataSource;
  /** Disagreements a person should know about (a sidecar from another backup...). */
  notes: string[];
}

/**
 * A backup's metadata: the copy inside the file wins (it cannot be separated
 * from its image); the sidecar serves where the format has no place for it.
 */
export function findBackupMetadata(file: string): FoundMetadata | null {
  let embedded: BackupMetadata | null = null;
  try {
    embedded = readEmbeddedMetadata(file);
  } catch {
    embedded = null;
  }
  const sidecar = readSidecar(file);
  if (embedded) {
    const notes = sidecar && sidecar.sha256 !== embedded.sha256 ? [`${sidecarPathOf(file)} describes a different backup (SHA-256 ${sidecar.sha256}); the metadata inside the file was used.`] : [];
    return { metadata: embedded, from: 'embedded', notes };
  }
  return sidecar ? { metadata: sidecar, from: 'sidecar', notes: [] } : null;
}

/** Writes `meta` as pretty JSON to `file`, durably (fsync), creating or replacing it. */
export function writeMetadataFile(file: string, meta: BackupMetadata): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    writeFully(fd, Buffer.from(JSON.stringify(meta, null, 2) + '\n', 'utf8'), 0);
    fsyncChecked(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Imprint's version from its package.json, found by walking up from this file (out/ or the source tree). */
export function imprintVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'imprint' && pkg.version) return pkg.version;
    } catch {
      // Not here; look one folder up.
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}
