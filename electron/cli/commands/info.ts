import { parseArgs } from 'util';
import { sidecarPathOf } from '../../../shared/backup-metadata';
import { formatBytes } from '../../../shared/units';
import { allocatedBytes, inspectImageOrBackup } from '../../engine/jobs/image-info';
import { describeLayout, describeStorage } from '../../engine/jobs/layout-lines';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { engineSettings } from '../run-job';

export const infoCommand: Command = {
  help: `Usage: imprint info IMAGE_OR_BACKUP [--json]

Prints the format and size of an image, what an Imprint backup records about
itself (date, drive model and serial, size, SHA-256), and the partitions and
filesystems in it. A backup's partitions come from its metadata; other
compressed images are decompressed as far as their last partition's start.`,
  async run(args, out) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
    const [file] = positionalArgs('info', positionals, 'IMAGE_OR_BACKUP') as [string];
    const r = await inspectImageOrBackup(file, undefined, engineSettings().decoders);
    if (out.json) {
      out.result('', { type: 'info', ...r, backup: r.backup ? { ...r.backup.metadata, metadataFrom: r.backup.from, notes: r.backup.notes } : null });
      return 0;
    }
    const disk = r.format === 'raw' ? ` (${formatBytes(allocatedBytes(file))} on disk)` : '';
    out.result(`${r.path}: ${r.formatLabel}, ${formatBytes(r.fileSize)}${disk}`);
    out.result(`  Content: ${r.size !== null ? `${formatBytes(r.size)} (${r.size} bytes)` : 'size unknown until decompressed'}`);
    const b = r.backup;
    if (b) {
      const m = b.metadata;
      out.result(`Imprint backup (${b.from === 'embedded' ? 'description stored inside the file' : `description from ${sidecarPathOf(file)}`}):`);
      out.result(`  Taken:        ${m.createdAt} by Imprint ${m.imprintVersion}`);
      out.result(`  Drive:        ${m.source.device}${m.source.model ? `, ${m.source.model}` : ''}${m.source.serial ? `, serial ${m.source.serial}` : ''}`);
      out.result(`  Drive size:   ${formatBytes(m.size)} (${m.size} bytes)`);
      out.result(`  SHA-256:      ${m.sha256}${m.storage?.mode === 'used-blocks' ? ' (of the stored data: the stored ranges, in drive order)' : ' (of the drive)'}`);
      out.result(`  Compression:  ${m.compression}${m.compressionLevel !== null ? ` level ${m.compressionLevel}` : ''}`);
      for (const n of b.notes) out.result(`  note: ${n}`);
    } else if (r.format !== 'device') {
      out.result('Not an Imprint backup (no metadata inside the file or beside it).');
    }
    out.result(r.layoutFrom === 'recorded' ? 'Layout (recorded when the backup was taken):' : 'Layout:');
    for (const line of describeLayout(r.layout)) out.result(`  ${line}`);
    if (b?.metadata.storage) for (const line of describeStorage(b.metadata.storage)) out.result(`  ${line}`);
    return 0;
  },
};
