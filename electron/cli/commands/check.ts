import { parseArgs } from 'util';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';
import { prepareCheck, runCapacityCheck } from '../../engine/jobs/capacity-check';
import { confirmErase } from '../confirm';
import { stallTimeoutMs, withCancel } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';
import { mountedNotes, reportingUnmounts } from '../unmount-notice';

export const checkCommand: Command = {
  help: `Usage: imprint check DRIVE [--yes] [--json]

Writes a unique marker at about 100 places across DRIVE (every 1/64th of it
and every power of two), reads each one back from the drive itself, and
puts the original data back. A counterfeit drive, which reports more than it
holds, loses or overwrites markers past its real capacity; the result says
about how much it really holds. Takes seconds, not a full write.

The places tested are overwritten for a moment; on a counterfeit or failing
drive the original data there may not come back. Like flash, it refuses
system drives and asks first.
  --yes    do not ask first
  --json   newline-delimited JSON events on stdout

Exit status: 0 every marker came back; 1 the drive failed the check;
2 refused.`,
  async run(args, out) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' } } });
    const [target] = positionalArgs('check', positionals, 'DRIVE') as [string];
    const prepared = await prepareCheck(target);
    const drive = prepared.plan.drive;
    out.info(`Checking ${prepared.plan.path}: it reports ${formatBytes(prepared.size)} (${prepared.size} bytes)${drive ? `, ${drive.description}` : ''}.`);
    await confirmErase(
      [`${prepared.offsets.length} places on ${prepared.plan.path} will be overwritten for a moment, then put back (on a counterfeit or failing drive their data may be lost).`, ...mountedNotes(prepared.plan)],
      values.yes === true,
      'Check it?',
    );
    const stall = stallTimeoutMs();
    const result = await withCancel(out, (signal) => runCapacityCheck(prepared, { signal, stallTimeoutMs: stall, onEvent: reportingUnmounts(out, [prepared.plan], (e) => out.event(e)) }));
    out.done();
    const d = result.details ?? {};
    if (!out.json) {
      if (result.ok) out.result(`${prepared.plan.path}: all ${String(d.markers)} markers read back intact: it holds the ${formatBytes(prepared.size)} it claims.`);
      else if (result.error) out.result(`${prepared.plan.path}: ${result.error.code === 'E_COUNTERFEIT' ? 'COUNTERFEIT' : 'FAILED'} - ${result.error.message}`);
      if (typeof d.notRestoredPages === 'number' && d.notRestoredPages > 0) out.info(`${d.notRestoredPages} of the pages overwritten by markers could not be put back.`);
    }
    if (result.ok) return EXIT.ok;
    return result.error ? exitCodeFor(result.error.code) : EXIT.failed;
  },
};
