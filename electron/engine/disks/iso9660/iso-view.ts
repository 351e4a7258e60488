import type { FileEntry, FilesystemView } from '../filesystem-driver';
import { clampRead } from '../fat/cluster-reader';
import type { Volume } from '../volume';
import {
  DESCRIPTORS_AT,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  identifierName,
  MAX_DESCRIPTORS,
  parseDescriptor,
  parseRecord,
  SECTOR,
  type DirectoryRecord,
  type VolumeDescriptor,
} from './iso-records';
import { parseSystemUse, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type RockRidge } from './rock-ridge';

/**
 * A read-only view of an ISO 9660 image. The tree read is the primary one
 * with Rock Ridge when it has it (POSIX names, modes, times, symlinks),
 * else the Joliet tree (Unicode names), else the plain ISO 9660 names.
 * Files may span several extents (ISO level 3, files of 4 GiB and more).
 * Every extent is checked against the image's size; a record that does
 * not parse ends its sector, and is reported.
 */

/** Bytes of one folder read at most (a folder of 10,000 files with Rock Ridge takes about 2 MiB). */
const MAX_FOLDER_BYTES = 64 << 20;
/** Extents one file may have (a 4 GiB file needs 2; a crafted one could claim thousands). */
const MAX_EXTENTS = 1024;
const MAX_WARNINGS = 100;
/** Folders that deep-directory relocation leaves in the root (genisoimage, xorriso, and -hide-rr-moved's name). */
const RELOCATION_FOLDER = /^\.?rr_moved$/i;

interface Extent {
  /** Byte offset in the volume. */
  offset: number;
  length: number;
}

/** Serialisable on purpose: the browse walk keys folders by their ref to notice one that contains itself. */
class IsoRef {
  constructor(
    readonly extents: readonly Extent[],
    readonly symlink: string | null = null,
    readonly interleaved = false,
  ) {}
}

function refOf(entry: FileEntry): IsoRef {
  if (!(entry.ref instanceof IsoRef)) throw new Error(`${entry.name}: not an entry of this ISO 9660 image`);
  return entry.ref;
}

export async function openIso9660(volume: Volume): Promise<FilesystemView> {
  let primary: VolumeDescriptor | null = null;
  let joliet: VolumeDescriptor | null = null;
  const problems: string[] = [];
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const at = DESCRIPTORS_AT + i * SECTOR;
    if (at + SECTOR > volume.size) break;
    const b = await volume.read(at, SECTOR);
    if (b.toString('latin1', 1, 6) !== 'CD001' || b[0] === 255) break;
    const d = parseDescriptor(b);
    if (typeof d === 'string') problems.push(`volume descriptor ${i}: ${d}`);
    else if (d?.type === 1) primary ??= d;
    else if (d?.type === 2 && d.joliet) joliet ??= d;
  }
  if (!primary) throw new Error(`no usable primary volume descriptor${problems.length ? ` (${problems.join('; ')})` : ''}`);
  const view = new IsoView(volume, primary, joliet);
  for (const p of problems) view.warn(p);
  await view.init();
  return view;
}

class IsoView implements FilesystemView {
  readonly filesystem = 'iso9660';
  readonly label: string | null;
  readonly warnings: string[] = [];
  /** The tree being read: primary (with or without Rock Ridge) or Joliet. */
  private tree: VolumeDescriptor;
  /** Rock Ridge in use, with SUSP's LEN_SKP. */
  private rockRidge: { skip: number } | null = null;
  private readonly readBytes = (offset: number, length: number): Promise<Buffer> => this.volume.read(offset, length);

  constructor(
    private readonly volume: Volume,
    private readonly primary: VolumeDescriptor,
    private readonly joliet: VolumeDescriptor | null,
  ) {
    this.tree = primary;
    this.label = (joliet?.volumeId || primary.volumeId) || null;
  }

  warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
  }

  async init(): Promise<void> {
    const claimed = this.primary.volumeBlocks * this.primary.blockSize;
    if (claimed > this.volume.size) {
      this.warn(`the image is shorter than its ISO 9660 filesystem (${this.volume.size} of ${claimed} bytes): files past its end cannot be read`);
    }
    this.rockRidge = await this.detectRockRidge();
    if (!this.rockRidge && this.joliet) this.tree = this.joliet;
  }

  /** SUSP's SP entry opens the root's "." record (after 14 bytes of CD-XA data on some discs); Rock Ridge is in use when RRIP entries follow. */
  private async detectRockRidge(): Promise<{ skip: number } | null> {
    const root = this.primary.root;
    const at = this.extentOf(root);
    if (!at) return null;
    const sector = await this.volume.read(at.offset, Math.min(SECTOR, Math.max(at.length, 34)));
    const dot = parseRecord(sector, 0);
    if (typeof dot === 'string') return null;
    for (const start of [0, 14]) {
      const su = dot.systemUse.subarray(start);
      if (su.toString('latin1', 0, 2) !== 'SP') continue;
      const rr = await parseSystemUse(su, this.readBytes, this.primary.blockSize, this.volume.size);
      if (rr.susp && rr.any) return { skip: rr.susp.skip };
    }
    return null;
  }

  /** The extent a record points at, in bytes, or null when it lies outside the volume. */
  private extentOf(r: DirectoryRecord): Extent | null {
    const offset = (r.extent + r.extAttrLength) * this.tree.blockSize;
    if (!Number.isSafeInteger(offset) || offset + r.dataLength > this.volume.size) return null;
    return { offset, length: r.dataLength };
  }

  root(): FileEntry {
    const extent = this.extentOf(this.tree.root);
    return { name: '', kind: 'directory', size: 0, ref: new IsoRef(extent ? [extent] : []) };
  }

  async list(dir: FileEntry): Promise<FileEntry[]> {
    if (dir.kind !== 'directory') throw new Error(`${dir.name}: not a folder`);
    const ref = refOf(dir);
    const { entries } = await this.listExtent(ref, dir.name || '/', dir.name === '');
    return entries;
  }

  private async listExtent(ref: IsoRef, what: string, isRoot: boolean): Promise<{ entries: FileEntry[]; relocated: number }> {
    const extent = ref.extents[0];
    if (!extent) throw new Error(`folder ${what}: its records lie outside the image`);
    if (extent.length > MAX_FOLDER_BYTES) throw new Error(`folder ${what}: claims ${extent.length} bytes of records`);
    const data = await this.volume.read(extent.offset, extent.length);
    const out: FileEntry[] = [];
    let relocated = 0;
    let pending = null as { first: DirectoryRecord; extents: Extent[] } | null;
    for (let sector = 0; sector < data.length; sector += SECTOR) {
      const b = data.subarray(sector, Math.min(data.length, sector + SECTOR));
      for (let at = 0; at < b.length && b[at] !== 0; ) {
        const r = parseRecord(b, at);
        if (typeof r === 'string') {
          this.warn(`folder ${what}: ${r}; the rest of its sector is skipped`);
          break;
        }
        at += r.length;
        if (r.identifier.length === 1 && r.identifier[0]! <= 1) continue;
        // A multi-extent file: records with the same name, each but the last flagged.
        if (pending && !pending.first.identifier.equals(r.identifier)) {
          this.warn(`folder ${what}: a file split into extents has no last extent; skipped`);
          pending = null;
        }
        const ext = this.extentOf(r);
        if (!ext) this.warn(`folder ${what}: the data of an entry lies outside the image (a truncated image?)`);
        const extents: Extent[] = [...(pending?.extents ?? []), ...(ext ? [ext] : [])];
        if (r.flags & FLAG_MULTI_EXTENT && !(r.flags & FLAG_DIRECTORY)) {
          if (extents.length >= MAX_EXTENTS) {
            this.warn(`folder ${what}: a file claims more than ${MAX_EXTENTS} extents; skipped`);
            pending = null;
          } else pending = { first: pending?.first ?? r, extents };
          continue;
        }
        const first = pending?.first ?? r;
        pending = null;
        const entry = await this.entry(first, r, ext ? extents : null, what);
        if (entry === 'relocated') relocated++;
        else if (entry) out.push(entry);
      }
    }
    if (pending) this.warn(`folder ${what}: a file split into extents has no last extent; skipped`);
    if (isRoot && this.rockRidge) return { entries: await this.withoutRelocationFolder(out), relocated };
    return { entries: out, relocated };
  }

  /** Deep-directory relocation's folder is an artefact of ISO 9660's depth limit, not the user's: hidden when it holds only relocated folders. */
  private async withoutRelocationFolder(entries: FileEntry[]): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    for (const e of entries) {
      if (e.kind === 'directory' && RELOCATION_FOLDER.test(e.name)) {
        const inside = await this.listExtent(refOf(e), e.name, false).catch(() => null);
        if (inside && inside.entries.length === 0 && inside.relocated > 0) continue;
      }
      out.push(e);
    }
    return out;
  }

  /** The entry for a (possibly multi-extent) record; `extents` null when some lie outside the image. */
  private async entry(first: DirectoryRecord, last: DirectoryRecord, extents: Extent[] | null, what: string): Promise<FileEntry | 'relocated' | null> {
    const isDir = (last.flags & FLAG_DIRECTORY) !== 0;
    let rr: RockRidge | null = null;
    if (this.rockRidge && this.tree === this.primary) {
      rr = await parseSystemUse(first.systemUse.subarray(this.rockRidge.skip), this.readBytes, this.tree.blockSize, this.volume.size);
      if (rr.problem) this.warn(`folder ${what}: Rock Ridge data of an entry: ${rr.problem}`);
      if (rr.relocated) return 'relocated';
    }
    const name = rr?.name ?? identifierName(first.identifier, this.tree === this.joliet, isDir);
    const mtimeMs = rr?.mtimeMs ?? last.mtimeMs;
    const mode = rr?.mode;
    const base = { name, ...(mode !== undefined ? { mode: mode & 0o7777 } : {}), ...(mtimeMs !== undefined ? { mtimeMs } : {}) };
    if (rr?.childLink !== undefined) {
      const moved = await this.relocatedFolder(rr.childLink);
      if (!moved) {
        this.warn(`folder ${what}: "${name}" points to a relocated folder that cannot be read; skipped`);
        return null;
      }
      return { ...base, kind: 'directory', size: 0, ref: new IsoRef([moved]) };
    }
    const type = mode !== undefined ? mode & S_IFMT : isDir ? S_IFDIR : S_IFREG;
    if (isDir || type === S_IFDIR) {
      return { ...base, kind: 'directory', size: 0, ref: new IsoRef(isDir && extents ? extents.slice(0, 1) : []) };
    }
    if (type === S_IFLNK) {
      if (rr?.symlink === undefined) {
        this.warn(`folder ${what}: symlink "${name}" has no target; skipped`);
        return null;
      }
      return { ...base, kind: 'symlink', size: Buffer.byteLength(rr.symlink), ref: new IsoRef([], rr.symlink) };
    }
    const size = extents ? extents.reduce((s, e) => s + e.length, 0) : last.dataLength;
    const kind = type === S_IFREG ? 'file' : 'other';
    return { ...base, kind, size: kind === 'file' ? size : 0, ref: new IsoRef(extents ?? [], null, last.interleaved || first.interleaved) };
  }

  /** A folder moved by deep-directory relocation: its "." record at `block` gives its length. */
  private async relocatedFolder(block: number): Promise<Extent | null> {
    const offset = block * this.tree.blockSize;
    if (!Number.isSafeInteger(offset) || offset + SECTOR > this.volume.size) return null;
    const dot = parseRecord(await this.volume.read(offset, SECTOR), 0);
    if (typeof dot === 'string' || !(dot.flags & FLAG_DIRECTORY)) return null;
    return this.extentOf(dot);
  }

  async read(file: FileEntry, offset: number, length: number): Promise<Buffer> {
    if (file.kind !== 'file') throw new Error(`${file.name}: not a file`);
    const ref = refOf(file);
    if (ref.interleaved) throw new Error(`${file.name}: interleaved files (file unit size) are not supported`);
    const size = ref.extents.reduce((s, e) => s + e.length, 0);
    if (size < file.size) throw new Error(`${file.name}: its data lies outside the image (a truncated image?)`);
    const { offset: from, end } = clampRead(offset, length, size);
    const parts: Buffer[] = [];
    let extentStart = 0;
    for (const e of ref.extents) {
      if (from + sumLength(parts) >= end) break;
      const at = from + sumLength(parts);
      if (at < extentStart + e.length) {
        const within = at - extentStart;
        parts.push(await this.volume.read(e.offset + within, Math.min(end - at, e.length - within)));
      }
      extentStart += e.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async readlink(link: FileEntry): Promise<string> {
    const target = refOf(link).symlink;
    if (link.kind !== 'symlink' || target === null) throw new Error(`${link.name}: not a symbolic link`);
    return target;
  }
}

function sumLength(parts: Buffer[]): number {
  return parts.reduce((s, p) => s + p.length, 0);
}
