import { parseArgs } from 'util';
import { EXIT, exitCodeFor } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../../engine/errors';
import { runRescue, type RescueSummary } from '../../engine/jobs/rescue-job';
import type { Output } from '../output';
import { withCancel } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';

/** How many bad areas the closing lines name; the mapfile lists them all. */
const AREAS_SHOWN = 10;

export const rescueCommand: Command = {
  help: `Usage: imprint rescue SOURCE_DEVICE OUTPUT [--map MAPFILE] [--retries N] [--max-read-rate BYTES] [--json]

Copies SOURCE_DEVICE into the file OUTPUT, good areas first in large reads,
skipping past errors; then reads the edges of the failed areas sector by
sector (trimming), their insides (scraping), and last retries the bad
sectors N times. Unreadable sectors are zeros in OUTPUT.

The progress is kept in MAPFILE (default OUTPUT.map), in GNU ddrescue's
format (ddrescuelog and ddrescue read it). Interrupt with Ctrl-C and run the
same command again: it resumes, and reads nothing it already rescued.

  --map MAPFILE          where the rescue's state is kept (default OUTPUT.map)
  --retries N            passes over the bad sectors at the end (default 1)
  --max-read-rate BYTES  read at most this many bytes per second
  --json                 newline-delimited JSON events on stdout

Exit status: 0 every byte was rescued; 1 some bytes could not be read (OUTPUT
and MAPFILE are kept, the map says where) or the rescue was interrupted;
2 refused (bad arguments, OUTPUT exists without its mapfile...).`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { map: { type: 'string' }, retries: { type: 'string' }, 'max-read-rate': { type: 'string' }, json: { type: 'boolean' } },
    });
    const [source, output] = positionalArgs('rescue', positionals, 'SOURCE_DEVICE OUTPUT') as [string, string];
    const retries = count(values.retries, '--retries', 1);
    const maxReadRate = count(values['max-read-rate'], '--max-read-rate', 0);
    const commandLine = ['imprint', 'rescue', ...args].join(' ');
    const { summary: s } = await withCancel(out, (signal) =>
      runRescue(source, output, { mapfile: values.map, retries, maxReadRate, signal, commandLine, onEvent: (e) => out.event(e) }),
    );
    return reportRescue(out, s);
  },
};

/** The closing lines of a rescue (also after \`backup --rescue\`), and its exit code. */
export function reportRescue(out: Output, s: RescueSummary): number {
  out.done();
  if (!out.json) {
    const pct = ((100 * s.rescuedBytes) / s.size).toFixed(2);
    out.result(`Rescued ${formatBytes(s.rescuedBytes)} (${s.rescuedBytes} bytes) of ${formatBytes(s.size)}: ${pct}%.`);
    if (s.lostBytes > 0) {
      out.result(`Not rescued: ${formatBytes(s.lostBytes)} (${s.lostBytes} bytes)${s.badAreaCount > 0 ? `, ${s.badAreaCount} bad area${s.badAreaCount === 1 ? '' : 's'}` : ''}${s.pendingBytes > 0 ? `, ${formatBytes(s.pendingBytes)} not yet tried` : ''}.`);
      for (const a of s.badAreas.slice(0, AREAS_SHOWN)) out.result(`  bad: offset ${a.offset} (0x${a.offset.toString(16)}), ${a.length} bytes`);
      if (s.badAreaCount > AREAS_SHOWN) out.result(`  ... and ${s.badAreaCount - AREAS_SHOWN} more`);
    }
    out.result(`Output: ${s.output}  (unreadable areas hold zeros)`);
    out.result(`Map:    ${s.mapfile}  (GNU ddrescue format; run the same command again to retry or resume)`);
    if (s.error && s.error.code !== 'E_BAD_SECTOR') out.info(s.error.message);
  }
  if (s.ok) return EXIT.ok;
  return s.error ? exitCodeFor(s.error.code) : EXIT.failed;
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new ImprintError('E_BAD_ARGUMENTS', `${name} takes a whole number; got "${value}".`);
  return n;
}
