import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import type { Volume } from '../volume';
import { clampRead, readFromRuns } from '../fat/cluster-reader';
import type { ClusterRun } from '../fat/fat-table';
import type { ExfatFileEntry, ExfatStream } from './exfat-entries';
import { ExfatVolume } from './exfat-volume';

/**
 * A read-only view of an exFAT volume's files. Entry sets whose checksum
 * fails are skipped and reported; FAT chains are bounded by the stream's
 * length (a loop is an error for that file or folder); contiguous
 * (NoFatChain) streams must lie inside the cluster heap; bytes past a
 * file's ValidDataLength read as zeros. A folder that points back at
 * itself or a folder above it is reported and not followed.
 */

class ExfatRef {
  constructor(
    /** null: the root folder. */
    readonly stream: ExfatStream | null,
    /** First clusters of the folders above this one, the root's included. */
    readonly ancestors: readonly number[],
  ) {}
}

const MAX_WARNINGS = 100;

function refOf(entry: FileEntry): ExfatRef {
  if (!(entry.ref instanceof ExfatRef)) throw new Error(`${entry.name}: not an entry of this exFAT volume`);
  return entry.ref;
}

export async function openExfat(volume: Volume): Promise<FilesystemView> {
  const opened = await ExfatVolume.open(volume);
  if (!opened.ok) throw new Error(`cannot read this exFAT volume: ${opened.reason}`);
  const view = new ExfatView(opened.fs);
  await view.init();
  return view;
}

class ExfatView implements FilesystemView {
  readonly filesystem = 'exfat';
  label: string | null = null;
  readonly warnings: string[] = [];
  private readonly rootRef = new ExfatRef(null, []);
  private readonly runsCache = new Map<string, ClusterRun[]>();

  constructor(private readonly fs: ExfatVolume) {}

  async init(): Promise<void> {
    if (this.fs.g.dirty) this.warn('the volume was not cleanly unmounted (marked dirty); files being written then may be incomplete');
    if (this.fs.g.mediaFailure) this.warn('the volume recorded a media failure');
    const root = await this.fs.directory(null);
    if (root.error) throw new Error(`cannot read this exFAT volume's root folder: ${root.error}`);
    this.label = root.label;
  }

  private warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
  }

  root(): FileEntry {
    return { name: '', kind: 'directory', size: 0, ref: this.rootRef };
  }

  async list(dir: FileEntry): Promise<FileEntry[]> {
    const ref = refOf(dir);
    if (dir.kind !== 'directory') throw new Error(`${dir.name}: not a folder`);
    const what = dir.name || '/';
    const parsed = await this.fs.directory(ref.stream);
    if (parsed.error) throw new Error(`folder ${what}: ${parsed.error}`);
    for (const p of parsed.problems) this.warn(`folder ${what}: ${p}; skipped`);
    const self = ref.stream ? ref.stream.firstCluster : this.fs.g.rootCluster;
    const above = [...ref.ancestors, self];
    const out: FileEntry[] = [];
    for (const f of parsed.files) {
      if (f.directory && above.includes(f.stream.firstCluster)) {
        this.warn(`folder ${what}: entry "${f.name}" points back at itself or a folder above it; not followed`);
        continue;
      }
      out.push(this.entry(f, above));
    }
    return out;
  }

  private entry(f: ExfatFileEntry, above: number[]): FileEntry {
    return {
      name: f.name,
      kind: f.directory ? 'directory' : 'file',
      size: f.directory ? 0 : f.stream.dataLength,
      mtimeMs: f.mtimeMs,
      ref: new ExfatRef(f.stream, f.directory ? above : []),
    };
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    const ref = refOf(file);
    if (file.kind !== 'file' || !ref.stream) throw new Error(`${file.name}: not a file`);
    const s = ref.stream;
    const { offset: from, end } = clampRead(offset, length, s.dataLength);
    if (end <= from) return Buffer.alloc(0);
    // Bytes from ValidDataLength on were never written: they read as zeros.
    const validEnd = Math.min(end, s.validLength);
    const out = validEnd >= end ? null : Buffer.alloc(end - from);
    if (validEnd > from) {
      const runs = await this.runsOf(file.name, s);
      const data = await readFromRuns(this.fs.volume, runs, this.fs.g.clusterSize, (c) => this.fs.clusterOffset(c), from, validEnd - from);
      if (!out) return data;
      data.copy(out, 0);
    }
    return out ?? Buffer.alloc(0);
  }

  /**
   * Where the file's written bytes lie: its cluster runs up to its
   * ValidDataLength. What lies past that reads as zeros, so no extent
   * covers it (jobs/extract-copy.ts leaves it a hole).
   */
  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    const ref = refOf(file);
    if (file.kind !== 'file' || !ref.stream) return null;
    const s = ref.stream;
    const valid = Math.min(s.validLength, s.dataLength);
    const out: FileExtent[] = [];
    if (valid <= 0) return out;
    let offset = 0;
    for (const r of await this.runsOf(file.name, s)) {
      if (offset >= valid) break;
      const length = Math.min(r.count * this.fs.g.clusterSize, valid - offset);
      out.push({ offset, length, volumeOffset: this.fs.clusterOffset(r.first) });
      offset += length;
    }
    return out;
  }

  /** The cluster runs holding a stream's written bytes (cached: a file is read in several steps). */
  private async runsOf(name: string, s: ExfatStream): Promise<ClusterRun[]> {
    const key = `${s.firstCluster}:${s.validLength}:${s.contiguous}`;
    let runs = this.runsCache.get(key);
    if (!runs) {
      const r = await this.fs.runs(s, s.validLength);
      if (r.error) throw new Error(`${name}: ${r.error}`);
      runs = r.runs;
      if (this.runsCache.size > 256) this.runsCache.clear();
      this.runsCache.set(key, runs);
    }
    return runs;
  }

  async readlink(link: FileEntry): Promise<string> {
    throw new Error(`${link.name}: exFAT has no symbolic links`);
  }
}
