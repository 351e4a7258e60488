import type { StorageSummary } from '../../../shared/backup-metadata';
import { formatBytes } from '../../../shared/units';
import type { DriveLayout } from '../../engine/disks/drive-layout';
import { describeLayout, describeStorage } from '../../engine/jobs/layout-lines';
import type { Output } from '../output';

/** What a backup is about to read, said before it starts (a backup file and a backup folder say the same). */
export function sayBackupSource(drive: { device: string; size: number; model: string | null; serial: string | null }, layout: DriveLayout, storage: StorageSummary, out: Output): void {
  const what = [drive.model, drive.serial && `serial ${drive.serial}`].filter(Boolean).join(', ');
  out.info(`Drive: ${drive.device} (${formatBytes(drive.size)}${what ? `, ${what}` : ''})`);
  for (const line of describeLayout(layout)) out.info(`  ${line}`);
  for (const line of describeStorage(storage)) out.info(`  ${line}`);
}
