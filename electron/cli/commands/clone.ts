import { parseArgs } from 'util';
import { formatBytes } from '../../../shared/units';
import { prepareClone, runClone } from '../../engine/jobs/clone-job';
import { confirmErase } from '../confirm';
import { withCancel, stallTimeoutMs } from '../run-job';
import { confirmMountedSource } from './backup';
import { reportCopies } from './restore';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';

export const cloneCommand: Command = {
  help: `Usage: imprint clone SOURCE_DEVICE TARGET_DEVICE... [--no-verify] [--yes] [--json]

Reads SOURCE_DEVICE once (around the page cache; it is only read) and writes
it to every target at once, then reads each target back from the device.
A target must be at least as large as the source and must not be the source.
  --no-verify  skip reading the targets back
  --yes        do not ask before erasing (nor about mounted source partitions)
  --json       newline-delimited JSON events on stdout`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'no-verify': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' } },
    });
    const [source, ...targets] = positionalArgs('clone', positionals, 'SOURCE_DEVICE TARGET_DEVICE...') as [string, ...string[]];
    const prepared = await prepareClone({ source, targets });
    const { drive } = prepared;
    if (!out.json) {
      const what = [drive.model, drive.serial && `serial ${drive.serial}`].filter(Boolean).join(', ');
      out.info(`Source: ${drive.device} (${formatBytes(drive.size)}${what ? `, ${what}` : ''})`);
    }
    await confirmMountedSource(prepared.warnings, values.yes === true, out, 'clone');
    const lines = ['These will be ERASED:'];
    for (const t of prepared.flash.targets) {
      lines.push(t.drive ? `  ${t.path}  ${formatBytes(t.drive.size)}  ${t.drive.description}` : `  ${t.path}  (file)`);
      for (const w of t.warnings) lines.push(`  note: ${w}`);
      lines.push(...mountedNotes(t));
    }
    await confirmErase(lines, values.yes === true);
    const result = await withCancel(out, (signal) => runClone(prepared, { stallTimeoutMs: stallTimeoutMs(), verify: !values['no-verify'], signal, onEvent: reportingUnmounts(out, prepared.flash.targets, (e) => out.event(e)) }));
    return reportCopies(out, result, { done: 'cloned', checked: '' });
  },
};
