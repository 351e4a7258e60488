import { parseArgs } from 'util';
import { ImprintError } from '../../engine/errors';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import type { JobFinishedEvent, TargetProgress } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { prepareRestore, runRestore } from '../../engine/jobs/restore-job';
import { describeLayout, describeStorage } from '../../engine/jobs/layout-lines';
import { confirmErase } from '../confirm';
import { engineSettings, withCancel, stallTimeoutMs, writeSettings } from '../run-job';
import type { Output } from '../output';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';
import { parseFolderRef } from '../../engine/jobs/folder-restore-job';
import { restoreFromFolder } from './restore-from-folder';
import { PASSPHRASE_HELP, PASSPHRASE_OPTIONS, passphraseFor, passphraseFromOptions } from '../passphrase';

/** One line per target saying plainly whether it holds the source now, and if not, what differs. */
export function reportCopies(out: Output, result: JobFinishedEvent, verb: { done: string; checked: string }): number {
  out.done();
  if (!out.json) {
    const line = (t: TargetProgress): string => {
      switch (t.status) {
        case 'verified':
          return `${t.device}: ${verb.done} and verified (read back from the drive: every byte matches${verb.checked})`;
        case 'written':
          return `${t.device}: ${verb.done}${verb.checked ? `${verb.checked.replace(/^,/, ';')} while writing` : ''}, not read back (--no-verify)`;
        case 'cancelled':
          return `${t.device}: cancelled after ${formatBytes(t.bytesWritten)}; its partition table was wiped, so it holds no usable filesystem now.`;
        default:
          return `${t.device}: NOT ${verb.done} - ${t.error?.message ?? 'it did not complete'}`;
      }
    };
    for (const t of result.targets) out.result(line(t));
    if (result.error && result.targets.every((t) => !t.error)) out.info(result.error.message);
  }
  if (result.ok) return EXIT.ok;
  return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
}

export const restoreCommand: Command = {
  help: `Usage: imprint restore BACKUP TARGET... [--no-verify] [--wipe-free-space] [--yes] [--json]
       imprint restore FOLDER[#GEN] TARGET... (a backup folder: its latest
       generation, or GEN: an id or a number from imprint backups list)

BACKUP: a file made by imprint backup (zstd, gzip, xz or raw); its metadata
is read from inside the file or from BACKUP.json. Refuses a target smaller
than the backed-up drive. The content's SHA-256 is checked against the
recorded one while writing (on a mismatch the drive's partition table is
never written) and every target is read back from the device afterwards.
A smart backup (the default of imprint backup) writes only what it stored,
each frame checked against its own checksum as it is decoded, the whole
against the recorded SHA-256 before the partition table is written, and
each 4 MiB read back against the CRC-32 it recorded;
the target's free space keeps what it held. A larger target's GPT is moved to
its new end.
  --no-verify  skip reading the targets back
  --wipe-free-space  zero what a smart backup does not write (discard or
               write-zeroes where the drive can, zeros otherwise)
  --yes        do not ask before erasing
  --json       newline-delimited JSON events on stdout
  --stdin-cancel  cancel when standard input closes (the app across pkexec)
${PASSPHRASE_HELP}`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'no-verify': { type: 'boolean' }, 'wipe-free-space': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' }, 'stdin-cancel': { type: 'boolean' }, ...PASSPHRASE_OPTIONS },
    });
    const [backup, ...targets] = positionalArgs('restore', positionals, 'BACKUP TARGET...') as [string, ...string[]];
    const folderRef = parseFolderRef(backup);
    if (folderRef) {
      const passphrase = await passphraseFor(folderRef.folder, values);
      return restoreFromFolder(backup, targets, { yes: values.yes === true, verify: !values['no-verify'], wipeFreeSpace: values['wipe-free-space'] === true, stdinCancel: values['stdin-cancel'] === true, passphrase }, out, reportCopies);
    }
    if (passphraseFromOptions(values) !== null) throw new ImprintError('E_BAD_ARGUMENTS', '--passphrase-file and --passphrase-env are for encrypted backup folders (FOLDER[#GEN]).');
    const prepared = await prepareRestore({ backup, targets, decoders: engineSettings().decoders });
    const m = prepared.metadata;
    if (!out.json) {
      const drive = [m.source.model, m.source.serial && `serial ${m.source.serial}`].filter(Boolean).join(', ');
      out.info(`Backup: ${backup} (${m.compression}), taken ${m.createdAt} of ${m.source.device}${drive ? ` (${drive})` : ''}, ${formatBytes(m.size)}`);
      out.info(`  SHA-256: ${m.sha256}`);
      for (const l of describeLayout({ partitionTable: m.partitionTable, filesystem: m.filesystem })) out.info(`  ${l}`);
      if (m.storage) for (const l of describeStorage(m.storage)) out.info(`  ${l}`);
      for (const n of prepared.notes) out.info(`  note: ${n}`);
    }
    const lines = ['These will be ERASED:'];
    for (const t of prepared.flash.targets) {
      lines.push(t.drive ? `  ${t.path}  ${formatBytes(t.drive.size)}  ${t.drive.description}` : `  ${t.path}  (file)`);
      for (const w of t.warnings) lines.push(`  note: ${w}`);
      lines.push(...mountedNotes(t));
    }
    await confirmErase(lines, values.yes === true);
    const result = await withCancel(out, (signal) => runRestore(prepared, { ...writeSettings(), stallTimeoutMs: stallTimeoutMs(), verify: !values['no-verify'], wipeFreeSpace: values['wipe-free-space'] === true, signal, onEvent: reportingUnmounts(out, prepared.flash.targets, (e) => out.event(e)) }), { stdinCancel: values['stdin-cancel'] === true });
    const checked = m.storage?.mode === 'used-blocks' ? `, the ${formatBytes(m.storage.storedBytes)} stored, against the recorded checksums` : `, SHA-256 ${m.sha256} as recorded`;
    if (!out.json) for (const n of (result.details?.kind === 'restore' ? (result.details.notes ?? []) : [])) out.info(n);
    return reportCopies(out, result, { done: 'restored', checked });
  },
};
