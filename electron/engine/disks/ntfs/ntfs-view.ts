import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import { VolumeRangeError, type Volume } from '../volume';
import type { AttributeStream } from './attribute-stream';
import { FILE_NAME_DOS, readDirectoryIndex, type FileNameKey } from './directory-index';
import { dataStream, entryFromKey, fileDetails, linkTarget, type NtfsRef } from './file-record';
import type { MftRecord } from './mft-record';
import { FILE_ROOT, NtfsReader } from './ntfs-reader';
import { NtfsFormatError } from './runlist';
import { hibernationProblem, logFileProblem, readVolumeInfo } from './volume-state';

/**
 * Browsing an NTFS volume: directories from their $I30 indexes, files read
 * through their runlists. System files (MFT records below 16: $MFT, $Bitmap,
 * the root's own "." entry...) are not listed, as ntfs-3g hides them too.
 */

/** Records 0-15 are NTFS's own files (layout.h: FILE_first_user). */
const FIRST_USER_RECORD = 16;
/** Warnings past this many are counted, not listed, so a damaged volume does not flood the UI. */
const MAX_WARNINGS = 100;
/** Streams of recently read files kept, so reading a file in chunks does not reparse its record each time. */
const STREAM_CACHE = 32;

const isFormatError = (err: unknown) => err instanceof NtfsFormatError || err instanceof VolumeRangeError;

class NtfsView implements FilesystemView {
  readonly filesystem = 'ntfs';
  private readonly streams = new Map<number, AttributeStream>();
  private dropped = 0;

  constructor(
    private readonly reader: NtfsReader,
    readonly label: string | null,
    readonly warnings: string[],
  ) {}

  root(): FileEntry {
    const ref: NtfsRef = { record: FILE_ROOT, sequence: 0 };
    return { name: '', kind: 'directory', size: 0, ref };
  }

  private warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS - 1) {
      this.warnings.push(message);
      return;
    }
    // The last slot counts what did not fit.
    this.dropped++;
    this.warnings[MAX_WARNINGS - 1] = `... and ${this.dropped} more warnings`;
  }

  private async record(entry: FileEntry): Promise<MftRecord> {
    const ref = entry.ref as NtfsRef;
    if (ref.unreadable !== undefined) throw new NtfsFormatError(`"${entry.name}" cannot be read: ${ref.unreadable}`);
    const rec = await this.reader.readRecord(ref.record);
    if (!rec.inUse || (ref.sequence !== 0 && rec.sequence !== ref.sequence)) {
      throw new NtfsFormatError(`"${entry.name}" is no longer in MFT record ${ref.record}`);
    }
    return rec;
  }

  async list(dir: FileEntry): Promise<FileEntry[]> {
    if (dir.kind !== 'directory') throw new NtfsFormatError(`"${dir.name}" is not a directory`);
    const rec = await this.record(dir);
    if (!rec.isDirectory) throw new NtfsFormatError(`"${dir.name}" (MFT record ${rec.number}) is not a directory`);
    const keys = await readDirectoryIndex(this.reader, rec);
    const out: FileEntry[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      // DOS 8.3 aliases repeat a long name that has its own entry; system files are hidden.
      if (key.namespace === FILE_NAME_DOS || key.record < FIRST_USER_RECORD) continue;
      const id = `${key.record}/${key.name}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(await this.entryFor(key, rec.number));
    }
    // By UTF-16 code unit, close to NTFS's own (upcase) collation and stable across calls.
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async entryFor(key: FileNameKey, parent: number): Promise<FileEntry> {
    if (key.parent !== parent) this.warn(`"${key.name}" is indexed in directory ${parent} but names directory ${key.parent} as its parent`);
    try {
      const { entry, namedStreams } = await fileDetails(this.reader, key);
      if (namedStreams.length > 0) {
        this.warn(`"${key.name}" has alternate data streams (${namedStreams.join(', ')}), which are not shown`);
      }
      return entry;
    } catch (err) {
      if (!isFormatError(err)) throw err;
      const message = (err as Error).message;
      this.warn(`"${key.name}": ${message}`);
      return entryFromKey(key, message);
    }
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    return this.reader.read(await this.streamOf(file), offset, length);
  }

  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    const s = await this.streamOf(file);
    if (s.resident !== undefined || s.compressed || s.encrypted) return null;
    const cs = this.reader.geo.clusterSize;
    // Bytes past the initialized size read as zeros (Windows never wrote them): left out, like sparse runs.
    const dataEnd = Math.min(s.size, s.initializedSize);
    const out: FileExtent[] = [];
    for (const run of s.runs) {
      const offset = run.vcn * cs;
      if (offset >= dataEnd) break;
      if (run.lcn !== null) out.push({ offset, length: Math.min(run.length * cs, dataEnd - offset), volumeOffset: run.lcn * cs });
    }
    return out;
  }

  /** The file's unnamed data stream (cached: a large file is read in many pieces). */
  private async streamOf(file: FileEntry): Promise<AttributeStream> {
    const ref = file.ref as NtfsRef;
    if (ref.unreadable !== undefined) throw new NtfsFormatError(`"${file.name}" cannot be read: ${ref.unreadable}`);
    let s = this.streams.get(ref.record);
    if (s === undefined) {
      const rec = await this.record(file);
      if (rec.isDirectory) throw new NtfsFormatError(`"${file.name}" is a directory`);
      s = (await dataStream(this.reader, rec)) ?? { size: 0, runs: [], initializedSize: 0, compressed: false, encrypted: false };
      if (this.streams.size >= STREAM_CACHE) this.streams.delete(this.streams.keys().next().value as number);
      this.streams.set(ref.record, s);
    }
    return s;
  }

  async readlink(link: FileEntry): Promise<string> {
    const ref = link.ref as NtfsRef;
    if (link.kind !== 'symlink' || ref.link === undefined) throw new NtfsFormatError(`"${link.name}" is not a symbolic link`);
    return linkTarget(this.reader, await this.record(link), ref.link);
  }
}

/** Opens an NTFS volume for browsing; throws an Error with a user-facing message when it cannot. */
export async function openNtfs(volume: Volume): Promise<FilesystemView> {
  let reader: NtfsReader;
  try {
    reader = await NtfsReader.open(volume);
  } catch (err) {
    if (isFormatError(err)) throw new NtfsFormatError(`This NTFS volume cannot be opened: ${(err as Error).message}`);
    throw err;
  }
  const warnings: string[] = [];
  let label: string | null = null;
  try {
    const info = await readVolumeInfo(reader);
    label = info.label;
    if (info.dirty) warnings.push('The NTFS volume is marked dirty (not cleanly unmounted); the listing may be incomplete.');
  } catch (err) {
    if (!isFormatError(err)) throw err;
    warnings.push(`The NTFS volume information cannot be read: ${(err as Error).message}`);
  }
  for (const check of [logFileProblem, hibernationProblem]) {
    try {
      const problem = await check(reader);
      if (problem !== null) warnings.push(`${problem[0]?.toUpperCase()}${problem.slice(1)}; recent changes may be missing from the listing.`);
    } catch (err) {
      if (!isFormatError(err)) throw err;
    }
  }
  return new NtfsView(reader, label, warnings);
}
