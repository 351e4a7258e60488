import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { isLarge, unknownSizeNote } from '../../../shared/drive-constraints';
import { describeSource } from '../../engine/formats/image-source';
import { prepareFlash, runFlash } from '../../engine/jobs/flash-job';
import { confirmErase } from '../confirm';
import { engineSettings, reportFinished, withCancel, stallTimeoutMs, writeSettings } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';
import { flashFromWeb, isUrlArgument } from './flash-url';

export const flashCommand: Command = {
  help: `Usage: imprint flash IMAGE TARGET... [--no-verify] [--sha256 HEX] [--yes] [--json]
       imprint flash URL TARGET... [--sha256 HEX] [--allow-http] [--give-up-after S] [--no-cache]
       imprint flash --os "NAME" TARGET... [--catalogue SOURCE]...

IMAGE: raw (.img, .iso, ...), or gzip, xz, bzip2, zstd, or a zip holding one
image; the format is told from the content. TARGET: a drive (/dev/sdX) or a
file to write the uncompressed image to. Several targets are written at once.
  --no-verify    skip reading the targets back
  --sha256 HEX   the image's published SHA-256 (of the file or its content);
                 IMAGE.sha256 or SHA256SUMS beside the image are used otherwise
  --yes          do not ask before erasing
  URL            an https URL (http only on the local network, or with
                 --allow-http): downloaded, resuming through dropped
                 connections, then written; URL.sha256, a SHA256SUMS beside
                 it, or the catalogue's checksum is checked. A flash that
                 succeeds keeps the download in the cache (imprint cache).
  --os NAME      the catalogue entry of that name (imprint catalogue lists them)
  --catalogue S  the catalogue to look in (a URL or file; repeatable);
                 default: Raspberry Pi Imager's and Fedora's public lists
  --give-up-after S  fail a download after S seconds without progress (120)
  --no-cache     neither use nor keep a cached download
  --json         newline-delimited JSON events on stdout
  --stdin-cancel cancel when standard input closes (for a parent process
                 that cannot send signals, such as the app across pkexec)`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'no-verify': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        json: { type: 'boolean' },
        sha256: { type: 'string' },
        'stdin-cancel': { type: 'boolean' },
        os: { type: 'string' },
        catalogue: { type: 'string', multiple: true },
        'allow-http': { type: 'boolean' },
        'give-up-after': { type: 'string' },
        'no-cache': { type: 'boolean' },
      },
    });
    if (values.os !== undefined || (positionals[0] !== undefined && isUrlArgument(positionals[0]))) {
      return flashFromWeb(
        {
          url: values.os !== undefined ? null : (positionals[0] ?? null),
          os: values.os ?? null,
          catalogues: values.catalogue ?? [],
          targets: values.os !== undefined ? positionals : positionals.slice(1),
          sha256: values.sha256 ?? null,
          yes: values.yes === true,
          verify: !values['no-verify'],
          allowHttp: values['allow-http'] === true,
          noCache: values['no-cache'] === true,
          giveUpAfter: values['give-up-after'],
          stdinCancel: values['stdin-cancel'] === true,
        },
        out,
      );
    }
    const [image, ...targets] = positionalArgs('flash', positionals, 'IMAGE TARGET...') as [string, ...string[]];
    const prepared = await prepareFlash({ image, targets, sha256: values.sha256 ?? null, decoders: engineSettings().decoders });
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
    const result = await withCancel(out, (signal) => runFlash(prepared, { ...writeSettings(), stallTimeoutMs: stallTimeoutMs(), verify: !values['no-verify'], signal, onEvent: reportingUnmounts(out, prepared.targets, (e) => out.event(e)) }), { stdinCancel: values['stdin-cancel'] === true });
    return reportFinished(out, result);
  },
};
