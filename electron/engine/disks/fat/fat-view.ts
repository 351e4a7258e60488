import type { FileEntry, FileExtent, FilesystemView } from '../filesystem-driver';
import type { Volume } from '../volume';
import { clampRead, readFromRuns } from './cluster-reader';
import { fatWidth, readGeometry } from './fat-allocation';
import type { FatGeometry } from './fat-boot-sector';
import { parseFatDirectory, type FatDirEntry } from './fat-directory';
import { FatTable, type ClusterRun } from './fat-table';

/**
 * A read-only view of a FAT12/16/32 volume's files. Every cluster chain is
 * bounded (by the file's size, or for a folder by the 65,536 entries a FAT
 * folder can hold), so a loop in the FAT is an error for that one file or
 * folder; a folder that lists itself or one of the folders above it is
 * reported and not followed, so a walk of the tree always ends.
 */

/** What a FAT FileEntry's `ref` holds. */
class FatRef {
  constructor(
    /** First cluster; 0 for the fixed FAT12/16 root and for empty files. */
    readonly cluster: number,
    readonly root: boolean,
    /** First clusters of the folders above this one (and the root's), to refuse loops. */
    readonly ancestors: readonly number[],
  ) {}
}

/** A FAT folder holds at most 65,536 entries of 32 bytes. */
const MAX_DIRECTORY_BYTES = 65536 * 32;
/** Listing problems kept in `warnings`; past this many the rest are counted only. */
const MAX_WARNINGS = 100;

function refOf(entry: FileEntry): FatRef {
  if (!(entry.ref instanceof FatRef)) throw new Error(`${entry.name}: not an entry of this FAT volume`);
  return entry.ref;
}

export async function openFat(volume: Volume): Promise<FilesystemView> {
  const parsed = await readGeometry(volume);
  if (!parsed.ok) throw new Error(`cannot read this FAT volume: ${parsed.reason}`);
  const view = new FatView(volume, parsed.geometry);
  await view.init();
  return view;
}

class FatView implements FilesystemView {
  readonly filesystem: string;
  label: string | null;
  readonly warnings: string[] = [];
  private readonly fat: FatTable;
  private readonly rootRef: FatRef;
  private readonly runsCache = new Map<string, ClusterRun[]>();

  constructor(
    private readonly volume: Volume,
    private readonly g: FatGeometry,
  ) {
    this.filesystem = g.type.toLowerCase();
    this.label = g.bootLabel;
    const active = g.activeFat ?? 0;
    this.fat = new FatTable(volume, g.fatOffset + active * g.fatSectors * g.bytesPerSector, fatWidth(g), g.clusterCount);
    this.rootRef = new FatRef(g.type === 'FAT32' ? g.rootCluster : 0, true, []);
  }

  async init(): Promise<void> {
    // FAT[1]'s top bits: "clean shutdown" and "no hard error" (fatgen103 section 4).
    const flags = await this.fat.entry(1);
    const [clean, noError] = this.g.type === 'FAT32' ? [0x08000000, 0x04000000] : this.g.type === 'FAT16' ? [0x8000, 0x4000] : [0, 0];
    if (clean && !(flags & clean)) this.warn('the volume was not cleanly unmounted; files being written then may be incomplete');
    if (noError && !(flags & noError)) this.warn('the volume recorded a disk I/O error');
    const root = await this.readDirectory(this.rootRef, '/');
    if (root.label !== null) this.label = root.label;
  }

  private warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
  }

  root(): FileEntry {
    return { name: '', kind: 'directory', size: 0, ref: this.rootRef };
  }

  private clusterOffset = (cluster: number): number => this.g.dataOffset + (cluster - 2) * this.g.clusterSize;

  private async readDirectory(ref: FatRef, what: string) {
    let bytes: Buffer;
    if (ref.root && this.g.type !== 'FAT32') {
      bytes = await this.volume.read(this.g.rootDirOffset, this.g.rootEntries * 32);
    } else {
      const limit = Math.ceil(MAX_DIRECTORY_BYTES / this.g.clusterSize);
      const chain = await this.fat.chain(ref.cluster, limit);
      if (chain.error) throw new Error(`folder ${what}: ${chain.error}`);
      if (!chain.ended) throw new Error(`folder ${what}: its cluster chain is longer than any FAT folder can be`);
      bytes = await readFromRuns(this.volume, chain.runs, this.g.clusterSize, this.clusterOffset, 0, chain.clusters * this.g.clusterSize);
    }
    const dir = parseFatDirectory(bytes, this.g.type === 'FAT32');
    if (dir.orphanLongNames > 0) this.warn(`folder ${what}: ${dir.orphanLongNames} long name(s) without their short entry were ignored`);
    return dir;
  }

  async list(dir: FileEntry): Promise<FileEntry[]> {
    const ref = refOf(dir);
    if (dir.kind !== 'directory') throw new Error(`${dir.name}: not a folder`);
    const parsed = await this.readDirectory(ref, dir.name || '/');
    const above = ref.root ? [ref.cluster] : [...ref.ancestors, ref.cluster];
    const out: FileEntry[] = [];
    for (const e of parsed.entries) {
      if (e.directory && (e.firstCluster === 0 || above.includes(e.firstCluster) || e.firstCluster === this.rootRef.cluster)) {
        this.warn(`folder ${dir.name || '/'}: entry "${e.name}" points back at itself or a folder above it; not followed`);
        continue;
      }
      out.push(this.entry(e, above));
    }
    return out;
  }

  private entry(e: FatDirEntry, above: number[]): FileEntry {
    return {
      name: e.name,
      kind: e.directory ? 'directory' : 'file',
      size: e.directory ? 0 : e.size,
      mtimeMs: e.mtimeMs,
      ref: new FatRef(e.firstCluster, false, e.directory ? above : []),
    };
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    const ref = refOf(file);
    if (file.kind !== 'file') throw new Error(`${file.name}: not a file`);
    const { offset: from, end } = clampRead(offset, length, file.size);
    if (end <= from) return Buffer.alloc(0);
    return readFromRuns(this.volume, await this.runsOf(file, ref), this.g.clusterSize, this.clusterOffset, from, end - from);
  }

  async extents(file: FileEntry): Promise<FileExtent[] | null> {
    if (file.kind !== 'file') return null;
    if (file.size === 0) return [];
    const out: FileExtent[] = [];
    let offset = 0;
    for (const r of await this.runsOf(file, refOf(file))) {
      if (offset >= file.size) break;
      const length = Math.min(r.count * this.g.clusterSize, file.size - offset);
      out.push({ offset, length, volumeOffset: this.clusterOffset(r.first) });
      offset += length;
    }
    return out;
  }

  /** The file's cluster runs, enough for its size (an error when the chain is short or broken). */
  private async runsOf(file: FileEntry, ref: FatRef): Promise<ClusterRun[]> {
    const key = `${ref.cluster}:${file.size}`;
    let runs = this.runsCache.get(key);
    const needed = Math.ceil(file.size / this.g.clusterSize);
    if (!runs) {
      if (ref.cluster === 0) throw new Error(`${file.name}: a file of ${file.size} bytes without clusters`);
      const chain = await this.fat.chain(ref.cluster, needed);
      if (chain.error) throw new Error(`${file.name}: ${chain.error}`);
      if (chain.clusters < needed) throw new Error(`${file.name}: its cluster chain ends after ${chain.clusters} of ${needed} clusters`);
      runs = chain.runs;
      if (this.runsCache.size > 256) this.runsCache.clear();
      this.runsCache.set(key, runs);
    }
    return runs;
  }

  async readlink(link: FileEntry): Promise<string> {
    throw new Error(`${link.name}: FAT has no symbolic links`);
  }
}
