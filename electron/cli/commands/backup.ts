import { parseArgs } from 'util';
import { BACKUP_COMPRESSIONS, type BackupCompression } from '../../../shared/backup-metadata';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { detailsOf, type JobFinishedEvent } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { ImprintError, fromErrorInfo } from '../../engine/errors';
import { prepareBackup } from '../../engine/jobs/backup-job';
import { backUpElseRescue } from '../../engine/jobs/backup-rescue';
import { confirmErase } from '../confirm';
import { withCancel, stallTimeoutMs } from '../run-job';
import type { Output } from '../output';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { PASSPHRASE_OPTIONS } from '../passphrase';
import { sayBackupSource } from './backup-source-lines';

/**
 * Asks before reading a drive whose partitions are mounted read-write. Without
 * a terminal nobody can answer: `--yes` must say so up front.
 */
export async function confirmMountedSource(warnings: string[], yes: boolean, out: Output, action: string): Promise<void> {
  if (warnings.length === 0) return;
  if (yes) {
    if (!out.json) for (const w of warnings) out.info(`warning: ${w}`);
    return;
  }
  if (!process.stdin.isTTY) {
    throw new ImprintError('E_NOT_CONFIRMED', `${warnings.join(' ')} Not confirmed: no terminal to ask. Pass --yes to ${action} anyway.`);
  }
  await confirmErase(warnings.map((w) => `warning: ${w}`), false, `${action[0]?.toUpperCase()}${action.slice(1)} anyway?`);
}

function reportBackup(out: Output, result: JobFinishedEvent): number {
  out.done();
  const d = detailsOf(result, 'backup');
  if (!out.json) {
    if (result.ok && d) {
      const ratio = `${(d.compressionRatio * 100).toFixed(1)}% of the drive`;
      out.result(`Backup written and verified: ${d.output}`);
      out.info(`  ${formatBytes(d.size)} drive -> ${formatBytes(d.storedBytes)} on disk (${ratio})`);
      const smart = d.storage?.mode === 'used-blocks';
      out.info(`  SHA-256 ${smart ? 'of the stored data (the used blocks, in drive order)' : 'of the drive'}: ${d.sha256}`);
      out.info(`  Description: ${d.sidecar}${d.metadataEmbedded ? ' (also stored inside the backup)' : ''}`);
    } else if (result.error) {
      out.info(`imprint backup: ${result.error.message}`);
      out.info('No backup file was left behind.');
    }
  }
  if (result.ok) return EXIT.ok;
  return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
}

export const backupCommand: Command = {
  help: `Usage: imprint backup DEVICE OUTPUT [--compress zstd|gzip|xz|none] [--level N]
                      [--sector-by-sector] [--rescue] [--yes] [--force] [--no-space-check] [--json]
       imprint backup DEVICE --into FOLDER [--encrypt] [--passphrase-file F | --passphrase-env NAME] [--yes] [--json]

Reads the drive (around the page cache; the drive is only read) and writes a
standard image that ordinary tools restore, e.g.
  zstd -dc OUTPUT | dd of=/dev/sdX bs=4M
By default only what the filesystems use is read (ext2/3/4, FAT, exFAT, NTFS,
swap); free space is stored as zeros, and partitions Imprint cannot read are
stored whole, with the reason. Then the image is read back and checked, chunk
by chunk, before the file appears under its name.
  --sector-by-sector  store every sector, free space included (forensics, or
                    a filesystem you do not trust) OUTPUT.json describes the backup (size,
SHA-256, model, serial, partitions); zstd and gzip backups also carry it inside.
  --compress F      zstd (default: fast, multi-threaded), gzip, xz (smallest,
                    slow), or none (a raw image; zero blocks become holes)
  --level N         compression level (zstd 1-19, default 3, or 1 when only
                    used blocks are stored; gzip 1-9, default 6; xz 0-9,
                    default 6)
  --rescue          if the drive has unreadable sectors, save what can be
                    read instead (imprint rescue): a raw image, OUTPUT
                    without its .zst/.gz/.xz, zeros where nothing could be
                    read, and a map of those areas (OUTPUT.map)
  --yes             back up even if partitions are mounted read-write
  --force           replace OUTPUT if it exists
  --no-space-check  start even if the destination may not hold the worst case
  --into FOLDER     add a generation to a backup folder instead (new or
                    existing): only data the folder does not hold yet is
                    stored (imprint backups list|verify FOLDER; imprint
                    restore FOLDER[#GEN] TARGET)
  --encrypt         with --into, a new folder is encrypted (AES-256-GCM,
                    key from a passphrase by scrypt): asks for a passphrase
                    twice, or takes --passphrase-file F / --passphrase-env
                    NAME; adding to an encrypted folder needs the same one
  --json            newline-delimited JSON events on stdout
  --stdin-cancel    cancel when standard input closes (the app across pkexec)`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        compress: { type: 'string', default: 'zstd' },
        level: { type: 'string' },
        yes: { type: 'boolean', short: 'y' },
        rescue: { type: 'boolean' },
        force: { type: 'boolean' },
        'sector-by-sector': { type: 'boolean' },
        'no-space-check': { type: 'boolean' },
        json: { type: 'boolean' },
        'stdin-cancel': { type: 'boolean' },
        into: { type: 'string' },
        encrypt: { type: 'boolean' },
        ...PASSPHRASE_OPTIONS,
      },
    });
    if (values.into !== undefined) {
      const unsupported: string[] = (['level', 'rescue', 'force', 'sector-by-sector', 'no-space-check'] as const).filter((o) => values[o] !== undefined);
      if (values.compress !== 'zstd') unsupported.unshift('compress');
      if (unsupported.length > 0) throw new ImprintError('E_BAD_ARGUMENTS', `--into stores a smart backup in zstd pieces; it takes no --${unsupported.join(', --')}.`);
      const [folderDevice] = positionalArgs('backup', positionals, 'DEVICE') as [string];
      // Required here (as commands.ts loads commands): a backup to one file does not load the folder engine.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { backupIntoFolder } = require('./backup-into-folder') as typeof import('./backup-into-folder');
      return backupIntoFolder(folderDevice, values.into, { yes: values.yes === true, stdinCancel: values['stdin-cancel'] === true, encrypt: values.encrypt === true, passphraseOptions: values }, out, confirmMountedSource);
    }
    const folderOnly = (['encrypt', 'passphrase-file', 'passphrase-env'] as const).filter((o) => values[o] !== undefined);
    if (folderOnly.length > 0) throw new ImprintError('E_BAD_ARGUMENTS', `--${folderOnly.join(', --')} ${folderOnly.length > 1 ? 'go' : 'goes'} with --into FOLDER (encrypted backup folders).`);
    const [device, output] = positionalArgs('backup', positionals, 'DEVICE OUTPUT') as [string, string];
    const compression = values.compress as BackupCompression;
    if (!BACKUP_COMPRESSIONS.includes(compression)) throw new ImprintError('E_BAD_ARGUMENTS', `--compress takes one of ${BACKUP_COMPRESSIONS.join(', ')}; got "${values.compress}".`);
    const level = values.level === undefined ? null : Number(values.level);
    if (level !== null && !Number.isInteger(level)) throw new ImprintError('E_BAD_ARGUMENTS', `--level takes a whole number; got "${values.level}".`);

    const prepared = await prepareBackup({ device, output, compression, level, force: values.force === true, checkFreeSpace: !values['no-space-check'], sectorBySector: values['sector-by-sector'] === true });
    const { drive } = prepared;
    if (!out.json) {
      sayBackupSource(drive, prepared.layout, prepared.storage, out);
      out.info(`Backup: ${prepared.out.output} (${compression}${prepared.level !== null ? ` level ${prepared.level}` : ''}${prepared.out.replaces ? ', replacing the existing file' : ''})`);
    }
    await confirmMountedSource(prepared.warnings, values.yes === true, out, 'back up');
    // The engine calls reading the drive into the compressed file "writing" (the file is written); people see a drive being read.
    out.namePhases({ writing: 'reading' });
    /** Human output: the backup's warnings (mounted partitions) were said above; the rescue's first is its note, said as a line; the rest as warnings. */
    let stage: 'backup' | 'note' | 'rescue' = 'backup';
    const onHumanWarning = (message: string): void => {
      if (stage === 'note') out.info(message);
      if (stage !== 'backup') stage = 'rescue';
    };
    const outcome = await withCancel(
      out,
      (signal) =>
        backUpElseRescue(prepared, output, {
          signal,
          rescue: values.rescue === true,
          commandLine: ['imprint', 'backup', ...args].join(' '),
          stallTimeoutMs: stallTimeoutMs(),
          onEvent: (e) => (e.type === 'warning' && !out.json && stage !== 'rescue' ? onHumanWarning(e.message) : out.event(e)),
          onRescueStarts: (backup) => {
            reportBackup(out, backup);
            stage = 'note';
          },
        }),
      { stdinCancel: values['stdin-cancel'] === true },
    );
    if (outcome.kind === 'rescue') {
      if (!outcome.summary) throw fromErrorInfo(outcome.finished.error ?? { code: 'E_INTERNAL', message: 'The rescue was refused without a reason.' });
      // Loaded only now: rescue mode's command and engine are not part of a backup's start.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { reportRescue } = require('./rescue') as typeof import('./rescue');
      return reportRescue(out, outcome.summary);
    }
    const code = reportBackup(out, outcome.finished);
    if (outcome.unreadable) {
      out.info(`${drive.device} has unreadable sectors, so no complete backup can be made. To save everything that can still be read, run:`);
      out.info(`  imprint backup --rescue ${drive.device} ${output}    (or: imprint rescue ${drive.device} ${outcome.rescueOutput})`);
    }
    return code;
  },
};
