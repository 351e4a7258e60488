import { ImprintError } from '../errors';
import { openByteSource, type ByteSource, type ByteSourceOptions } from '../formats/byte-source';
import type { FileEntry, FilesystemView } from '../disks/filesystem-driver';
import { openPartition, sourcePartitions, usedBytesOf, type PartitionContents, type SourcePartition } from '../disks/source-partitions';

/**
 * Looking inside an image, backup or drive without restoring it: its
 * partitions, their filesystems, and paths in them (`imprint ls`, `imprint
 * extract`). Read-only toward the source, always.
 */

/** Folders deeper than this are not entered: no real tree is, and a crafted one must end. */
export const MAX_DEPTH = 128;
/** Entries a recursive walk visits at most (a crafted folder may claim millions). */
export const MAX_WALK_ENTRIES = 5_000_000;

export interface PartitionSummary {
  number: number;
  start: number;
  size: number;
  typeName: string | null;
  filesystem: string | null;
  label: string | null;
  usedBytes: number | null;
  /** Why Imprint cannot list it, or null. */
  problem: string | null;
  warnings: string[];
}

export class BrowseSession {
  private readonly opened = new Map<number, Promise<PartitionContents>>();

  private constructor(
    readonly source: ByteSource,
    readonly partitions: SourcePartition[],
  ) {}

  static async open(path: string, opts: ByteSourceOptions = {}): Promise<BrowseSession> {
    const source = await openByteSource(path, opts);
    try {
      const { partitions } = await sourcePartitions(source);
      return new BrowseSession(source, partitions);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  contents(p: SourcePartition): Promise<PartitionContents> {
    let c = this.opened.get(p.number);
    if (!c) {
      c = openPartition(p);
      this.opened.set(p.number, c);
    }
    return c;
  }

  async summaries(): Promise<PartitionSummary[]> {
    const out: PartitionSummary[] = [];
    for (const p of this.partitions) {
      const c = await this.contents(p);
      out.push({
        number: p.number,
        start: p.start,
        size: p.size,
        typeName: p.typeName,
        filesystem: c.view?.filesystem ?? c.driver?.family ?? null,
        label: c.view?.label ?? null,
        usedBytes: await usedBytesOf(c.driver, p.volume),
        problem: c.problem,
        warnings: c.view ? [...c.view.warnings] : [],
      });
    }
    return out;
  }

  /** The filesystem of partition `number`; a missing partition or one Imprint cannot read is the user's error to hear. */
  async view(number: number): Promise<FilesystemView> {
    const p = this.partitions.find((x) => x.number === number);
    if (!p) {
      const have = this.partitions.map((x) => x.number).join(', ') || 'none';
      throw new ImprintError('E_BAD_ARGUMENTS', `${this.source.info.path} has no partition ${number} (partitions: ${have}).`);
    }
    const c = await this.contents(p);
    if (!c.view) throw new ImprintError('E_UNSUPPORTED_FORMAT', `partition ${number}: ${c.problem ?? 'not a filesystem Imprint can read'}`);
    return c.view;
  }

  /** The entry at `path` ('/'-separated; '' or '/' is the root). */
  async resolve(view: FilesystemView, number: number, path: string): Promise<FileEntry> {
    let entry = view.root();
    const parts = path.split('/').filter((s) => s.length > 0 && s !== '.');
    for (let i = 0; i < parts.length; i++) {
      const want = parts[i]!;
      if (entry.kind !== 'directory') throw new ImprintError('E_BAD_ARGUMENTS', `${number}:/${parts.slice(0, i).join('/')} is not a folder.`);
      const children = await view.list(entry);
      // Exact name first; a FAT or NTFS name matches whatever its case, like the OS that wrote it.
      const next = children.find((c) => c.name === want) ?? children.find((c) => c.name.toLowerCase() === want.toLowerCase());
      if (!next) throw new ImprintError('E_BAD_ARGUMENTS', `${number}:/${parts.slice(0, i + 1).join('/')} does not exist.`);
      entry = next;
    }
    return entry;
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/** `PART:PATH` as the user typed it; `3` alone is partition 3's root. */
export function parsePartPath(arg: string): { part: number; path: string } {
  const m = /^(\d+)(?::(.*))?$/s.exec(arg);
  if (!m) throw new ImprintError('E_BAD_ARGUMENTS', `"${arg}" is not PART:PATH (for example 1:/home/user).`);
  return { part: Number(m[1]), path: m[2] ?? '/' };
}

/** An identity for a folder, to notice one that contains itself (FAT and exFAT refs carry their ancestors, which are not identity). */
export function folderKey(entry: FileEntry): string {
  return JSON.stringify(entry.ref, (k, v: unknown) => (k === 'ancestors' ? undefined : typeof v === 'bigint' ? v.toString() : v));
}

export interface WalkItem {
  /** Names from the walk's start, as stored (unsafe ones included: the caller decides). */
  names: string[];
  entry: FileEntry;
}

export interface WalkProblem {
  names: string[];
  message: string;
}

/**
 * Every entry under `dir`, folders before their contents, depth first. A
 * folder that cannot be listed, one that contains itself, and anything
 * deeper than MAX_DEPTH are reported through `onProblem` and the walk goes on.
 */
export async function* walk(
  view: FilesystemView,
  dir: FileEntry,
  onProblem: (p: WalkProblem) => void,
  opts: { recursive: boolean; enter?: (item: WalkItem) => boolean },
): AsyncGenerator<WalkItem> {
  let visited = 0;
  const ancestors = new Set<string>([folderKey(dir)]);
  async function* inside(folder: FileEntry, names: string[]): AsyncGenerator<WalkItem> {
    let children: FileEntry[];
    try {
      children = await view.list(folder);
    } catch (err) {
      onProblem({ names, message: `cannot be listed: ${(err as Error).message}` });
      return;
    }
    for (const entry of children) {
      if (++visited > MAX_WALK_ENTRIES) {
        onProblem({ names, message: `more than ${MAX_WALK_ENTRIES} entries: the rest are not listed` });
        return;
      }
      const item = { names: [...names, entry.name], entry };
      yield item;
      if (!opts.recursive || entry.kind !== 'directory' || (opts.enter && !opts.enter(item))) continue;
      const key = folderKey(entry);
      if (ancestors.has(key)) {
        onProblem({ names: item.names, message: 'is a folder that contains itself (the filesystem is damaged or crafted): not entered' });
        continue;
      }
      if (item.names.length > MAX_DEPTH) {
        onProblem({ names: item.names, message: `lies more than ${MAX_DEPTH} folders deep: not entered` });
        continue;
      }
      ancestors.add(key);
      yield* inside(entry, item.names);
      ancestors.delete(key);
    }
  }
  yield* inside(dir, []);
}
