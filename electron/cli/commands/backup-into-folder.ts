import * as fs from 'fs';
import * as path from 'path';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { detailsOf, notableDiskBytes } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { MARKER_FILE } from '../../engine/formats/backup-folder/folder-layout';
import { prepareFolderBackup, runFolderBackup } from '../../engine/jobs/folder-backup-job';
import { sayBackupSource } from './backup-source-lines';
import { withCancel } from '../run-job';
import type { Output } from '../output';
import { passphraseFor, type PASSPHRASE_OPTIONS } from '../passphrase';

/** How backup.ts asks before reading a drive mounted read-write (passed in: backup.ts imports this file). */
type ConfirmMounted = (warnings: string[], yes: boolean, out: Output, action: string) => Promise<void>;

/** `imprint backup DEVICE --into FOLDER`: adds a generation to a backup folder. */
export async function backupIntoFolder(device: string, folder: string, opts: { yes: boolean; stdinCancel: boolean; encrypt: boolean; passphraseOptions: { [K in keyof typeof PASSPHRASE_OPTIONS]?: string | boolean } }, out: Output, confirmMountedSource: ConfirmMounted): Promise<number> {
  const creating = opts.encrypt && !fs.existsSync(path.join(folder, MARKER_FILE));
  const passphrase = await passphraseFor(folder, opts.passphraseOptions, creating);
  const prepared = await prepareFolderBackup({ device, folder, encrypt: opts.encrypt, passphrase });
  const { drive } = prepared;
  if (!out.json) {
    sayBackupSource(drive, prepared.layout, prepared.storage, out);
    out.info(`Backup folder: ${folder}${prepared.secrets.keys ? ', encrypted' : ''} (only pieces it does not hold yet are stored)`);
  }
  await confirmMountedSource(prepared.warnings, opts.yes, out, 'back up');
  out.namePhases({ writing: 'reading' });
  // The warnings and notes of the plan were shown above; what the backup finds as it runs (its pieces' space on the disk) was not.
  const shown = new Set([...prepared.warnings, ...prepared.notes]);
  const result = await withCancel(out, (signal) => runFolderBackup(prepared, { signal, onEvent: (e) => (e.type === 'warning' && !out.json && shown.has(e.message) ? undefined : out.event(e)) }), { stdinCancel: opts.stdinCancel });
  out.done();
  const d = detailsOf(result, 'folder-backup');
  if (!out.json) {
    if (result.ok && d) {
      out.result(`Generation ${d.number} (${d.generation}) added to ${d.folder}`);
      out.info(`  ${formatBytes(d.storedBytes)} of ${formatBytes(d.size)} drive in ${d.pieces} pieces; new data stored: ${formatBytes(d.newBytes)} in ${d.newPieces} new pieces, ${formatBytes(d.newStoredBytes)} compressed${onDisk(notableDiskBytes(d))}`);
      out.info(`  SHA-256 of the stored data (the used blocks, in drive order): ${d.sha256}`);
    } else if (result.error) {
      out.info(`imprint backup: ${result.error.message}`);
    }
  }
  if (result.ok) return EXIT.ok;
  return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
}

const onDisk = (bytes: number | null): string => (bytes === null ? '' : `, about ${formatBytes(bytes)} on the folder's disk`);
