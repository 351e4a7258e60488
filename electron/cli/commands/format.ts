import { parseArgs } from 'util';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';
import { isLarge } from '../../../shared/drive-constraints';
import { FORMAT_FILESYSTEMS, isFormatFilesystem } from '../../../shared/format-rules';
import { ImprintError } from '../../engine/errors';
import { prepareFormat, runFormat } from '../../engine/jobs/format-job';
import { confirmErase } from '../confirm';
import { withCancel } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';

const FS_NAMES: Record<string, string> = { fat32: 'FAT32', exfat: 'exFAT' };

export const formatCommand: Command = {
  help: `Usage: imprint format DRIVE [--fs exfat|fat32] [--label NAME] [--yes] [--json]

Returns a drive to normal use (after an ISO was flashed to it, say): every
old signature is wiped (at both ends of the drive), one MBR partition is made
over the whole drive and a filesystem on it: FAT32 up to 32 GB, exFAT above.
  --fs FS        fat32 or exfat instead of the size's choice
  --label NAME   volume label (default IMPRINT; FAT32: up to 11 characters,
                 stored in upper case; exFAT: up to 15)
  --yes          do not ask before erasing
  --json         newline-delimited JSON events on stdout
  --stdin-cancel cancel when standard input closes`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { fs: { type: 'string' }, label: { type: 'string' }, yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' }, 'stdin-cancel': { type: 'boolean' } },
    });
    const [drive] = positionalArgs('format', positionals, 'DRIVE') as [string];
    if (values.fs !== undefined && !isFormatFilesystem(values.fs)) {
      throw new ImprintError('E_BAD_ARGUMENTS', `--fs takes ${FORMAT_FILESYSTEMS.join(' or ')}; got "${values.fs}".`);
    }
    const prepared = await prepareFormat({ drive, filesystem: values.fs ?? null, label: values.label ?? null });
    const { target, filesystem, label } = prepared;
    const lines = [
      'This will be ERASED:',
      `  ${target.path}  ${formatBytes(target.drive.size)}  ${target.drive.description}`,
      `  then: one partition over the whole drive, ${FS_NAMES[filesystem]}, labelled "${label}"`,
    ];
    if (isLarge(target.drive)) lines.push(`  WARNING: ${target.path} is ${formatBytes(target.drive.size)}: that is rarely a USB stick or SD card. Is it really the drive you mean?`);
    for (const w of target.warnings) if (!w.includes('larger than')) lines.push(`  note: ${w}`);
    lines.push(...mountedNotes(target));
    await confirmErase(lines, values.yes === true, 'Erase and format?');
    const result = await withCancel(out, (signal) => runFormat(prepared, { signal, onEvent: reportingUnmounts(out, [target], (e) => out.event(e)) }), { stdinCancel: values['stdin-cancel'] === true });
    out.done();
    if (result.ok) {
      out.result(`${target.path}: formatted ${FS_NAMES[filesystem]}, labelled "${label}", one partition over the whole drive (${formatBytes(target.drive.size)}), checked by reading it back.`);
      return EXIT.ok;
    }
    const error = result.error ?? { code: 'E_INTERNAL' as const, message: 'The format failed without a reason (a bug in Imprint).' };
    if (!out.json) out.result(`${target.path}: FAILED - ${error.message}`);
    return exitCodeFor(error.code);
  },
};
