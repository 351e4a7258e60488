import type { InsideState } from '../store/inside-slice';
import { childOf } from '../store/inside-slice';

/** One visible line of the "Browse files" tree: a partition, a folder, a file, or a note (loading, an error). */
export interface TreeRow {
  /** PART:PATH; a note's is its folder's plus a suffix, never sent anywhere. */
  where: string;
  level: number;
  label: string;
  kind: 'partition' | 'directory' | 'file' | 'symlink' | 'other' | 'note';
  size: number | null;
  mtimeMs: number | null;
  expandable: boolean;
  expanded: boolean;
  selectable: boolean;
  /** Index of the row above it in the tree (-1 at the top). */
  parent: number;
  /** Position among its siblings, from 1, and their count (aria-posinset / aria-setsize). */
  pos: number;
  setSize: number;
}

/** The tree's visible rows, depth first: expanded folders show their entries (folders first, by name). */
export function treeRows(s: InsideState): TreeRow[] {
  const rows: TreeRow[] = [];
  const parts = s.partitions ?? [];
  parts.forEach((p, i) => {
    const where = `${p.number}:/`;
    const what = p.filesystem ? `${p.filesystem}${p.label ? ` "${p.label}"` : ''}` : 'unknown';
    const ok = p.problem === null;
    const expanded = ok && s.expanded.includes(where);
    rows.push({ where, level: 1, label: `Partition ${p.number}: ${what}${p.problem ? ` (${p.problem})` : ''}`, kind: 'partition', size: p.size, mtimeMs: null, expandable: ok, expanded, selectable: ok, parent: -1, pos: i + 1, setSize: parts.length });
    if (expanded) children(s, where, 2, rows.length - 1, rows);
  });
  return rows;
}

function children(s: InsideState, where: string, level: number, parent: number, rows: TreeRow[]): void {
  const folder = s.folders[where];
  const note = (label: string) => rows.push({ where: `${where}\0note`, level, label, kind: 'note', size: null, mtimeMs: null, expandable: false, expanded: false, selectable: false, parent, pos: 1, setSize: 1 });
  if (!folder || folder.loading) return void note('Reading…');
  if (folder.error) return void note(`Cannot be listed: ${folder.error}`);
  const entries = [...(folder.entries ?? [])].sort((a, b) => Number(b.kind === 'directory') - Number(a.kind === 'directory') || a.name.localeCompare(b.name));
  if (entries.length === 0) return void note('Empty folder');
  entries.forEach((e, i) => {
    const w = childOf(where, e.name);
    const isDir = e.kind === 'directory';
    const expanded = isDir && s.expanded.includes(w);
    rows.push({ where: w, level, label: e.name, kind: e.kind, size: e.kind === 'file' ? e.size : null, mtimeMs: e.mtimeMs, expandable: isDir, expanded, selectable: e.kind !== 'other', parent, pos: i + 1, setSize: entries.length });
    if (expanded) children(s, w, level + 1, rows.length - 1, rows);
  });
}
