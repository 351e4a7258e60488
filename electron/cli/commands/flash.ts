import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { isLarge, unknownSizeNote } from '../../../shared/drive-constraints';
import { describeSource } from '../../engine/formats/image-source';
import { prepareFlash, runFlash } from '../../engine/jobs/flash-job';
import { confirmErase } from '../confirm';
import { reportFinished, withCancel, stallTimeoutMs } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';

export const flashCommand: Command = {
  help: `Usage: imprint flash IMAGE TARGET... [--no-verify] [--sha256 HEX] [--yes] [--json]

IMAGE: raw (.img, .iso, ...), or gzip, xz, bzip2, zstd, or a zip holding one
image; the format is told from the content. TARGET: a drive (/dev/sdX) or a
file to write the uncompressed image to. Several targets are written at once.
  --no-verify    skip reading the targets back
  --sha256 HEX   the image's published SHA-256 (of the file or its content);
                 IMAGE.sha256 or SHA256SUMS beside the image are used otherwise
  --yes          do not ask before erasing
  --json         newline-delimited JSON events on stdout
  --stdin-cancel cancel when standard input closes (for a parent process
                 that cannot send signals, such as the app across pkexec)`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'no-verify': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' }, sha256: { type: 'string' }, 'stdin-cancel': { type: 'boolean' } },
    });
    const [image, ...targets] = positionalArgs('flash', positionals, 'IMAGE TARGET...') as [string, ...string[]];
    const prepared = await prepareFlash({ image, targets, sha256: values.sha256 ?? null });
    const { source } = prepared;
    out.info(`Image: ${source.path} (${describeSource(source)}, ${source.size !== null ? formatBytes(source.size) : 'size unknown until decompressed'})`);
    if (prepared.checksum) out.info(`Checking the image against the SHA-256 from ${prepared.checksum.from}.`);
    const lines = ['These will be ERASED:'];
    for (const t of prepared.targets) {
      lines.push(t.drive ? `  ${t.path}  ${formatBytes(t.drive.size)}  ${t.drive.description}` : `  ${t.path}  (file)`);
      if (t.drive && isLarge(t.drive)) lines.push(`  WARNING: ${t.path} is ${formatBytes(t.drive.size)}: that is rarely a USB stick or SD card. Is it really the drive you mean?`);
      for (const w of t.warnings) if (!w.includes('larger than')) lines.push(`  note: ${w}`);
      lines.push(...mountedNotes(t));
    }
    const sizeNote = unknownSizeNote({ path: source.path, size: source.size, minSize: source.minSize ?? null });
    if (sizeNote) lines.push(`  note: ${sizeNote}`);
    await confirmErase(lines, values.yes === true);
    const result = await withCancel(out, (signal) => runFlash(prepared, { stallTimeoutMs: stallTimeoutMs(), verify: !values['no-verify'], signal, onEvent: reportingUnmounts(out, prepared.targets, (e) => out.event(e)) }), { stdinCancel: values['stdin-cancel'] === true });
    return reportFinished(out, result);
  },
};
