import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { detailsOf } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { prepareFolderBackup, runFolderBackup } from '../../engine/jobs/folder-backup-job';
import { sayBackupSource } from './backup-source-lines';
import { withCancel } from '../run-job';
import type { Output } from '../output';

/** How backup.ts asks before reading a drive mounted read-write (passed in: backup.ts imports this file). */
type ConfirmMounted = (warnings: string[], yes: boolean, out: Output, action: string) => Promise<void>;

/** `imprint backup DEVICE --into FOLDER`: adds a generation to a backup folder. */
export async function backupIntoFolder(device: string, folder: string, opts: { yes: boolean; stdinCancel: boolean }, out: Output, confirmMountedSource: ConfirmMounted): Promise<number> {
  const prepared = await prepareFolderBackup({ device, folder });
  const { drive } = prepared;
  if (!out.json) {
    sayBackupSource(drive, prepared.layout, prepared.storage, out);
    out.info(`Backup folder: ${folder} (only pieces it does not hold yet are stored)`);
  }
  await confirmMountedSource(prepared.warnings, opts.yes, out, 'back up');
  out.namePhases({ writing: 'reading' });
  const result = await withCancel(out, (signal) => runFolderBackup(prepared, { signal, onEvent: (e) => (e.type === 'warning' && !out.json ? undefined : out.event(e)) }), { stdinCancel: opts.stdinCancel });
  out.done();
  const d = detailsOf(result, 'folder-backup');
  if (!out.json) {
    if (result.ok && d) {
      out.result(`Generation ${d.number} (${d.generation}) added to ${d.folder}`);
      out.info(`  ${formatBytes(d.storedBytes)} of ${formatBytes(d.size)} drive in ${d.pieces} pieces; new data stored: ${formatBytes(d.newBytes)} in ${d.newPieces} new pieces, ${formatBytes(d.newStoredBytes)} compressed`);
      out.info(`  SHA-256 of the stored data (the used blocks, in drive order): ${d.sha256}`);
    } else if (result.error) {
      out.info(`imprint backup: ${result.error.message}`);
    }
  }
  if (result.ok) return EXIT.ok;
  return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
}
