import type { FilesystemInfo, PartitionTableInfo, StorageSummary } from '../../../shared/backup-metadata';
import { formatBytes } from '../../../shared/units';
import type { DriveLayout } from '../disks/drive-layout';

/**
 * Lines for people about a drive's layout and what a backup stores of it:
 * `imprint info`, and the backup and restore commands before they start. A
 * file of its own, so those commands load no image decoders to print them.
 */

function describeFs(f: FilesystemInfo | null): string {
  if (!f) return 'no filesystem recognised';
  return [f.type, f.label ? `"${f.label}"` : null, f.uuid ? `UUID ${f.uuid}` : null].filter(Boolean).join('  ');
}

/** Lines for people describing a partition table and its filesystems. */
export function describeLayout(layout: DriveLayout): string[] {
  const t: PartitionTableInfo | null = layout.partitionTable;
  if (!t) return [`No partition table; whole drive: ${describeFs(layout.filesystem)}`];
  const lines = [`Partition table: ${t.type.toUpperCase()}${t.diskId ? ` (disk ${t.diskId})` : ''}, ${t.partitions.length} partition${t.partitions.length === 1 ? '' : 's'}`];
  for (const p of t.partitions) {
    const kind = p.typeName ?? `type ${p.type}`;
    const name = p.name ? ` "${p.name}"` : '';
    lines.push(`  ${String(p.number).padStart(2)}  at ${formatBytes(p.start).padStart(8)}  ${formatBytes(p.size).padStart(8)}  ${kind}${name}${p.bootable ? ' (boot)' : ''}: ${describeFs(p.filesystem)}`);
  }
  for (const n of t.notes) lines.push(`  note: ${n}`);
  return lines;
}

/** Lines for people saying what a backup stores (or will store) of each partition. */
export function describeStorage(s: StorageSummary): string[] {
  if (s.mode === 'sector-by-sector') return [`Stored: every sector (${formatBytes(s.storedBytes)}); the SHA-256 is the drive's.`];
  const lines = [`Stored: used blocks only, ${formatBytes(s.storedBytes)} (free space reads as zeros; the SHA-256 is of the stored data, in drive order)`];
  for (const p of s.partitions) {
    const what = p.stored === 'used-blocks' ? `${formatBytes(p.usedBytes ?? 0)} used of ${formatBytes(p.size)}: used blocks stored` : `${formatBytes(p.size)}: stored whole (${p.reason ?? 'no reason given'})`;
    lines.push(`  ${String(p.number).padStart(2)}  ${(p.filesystem ?? 'unknown').padEnd(6)}  ${what}`);
  }
  return lines;
}
