import { parseArgs } from 'util';
import { ImprintError } from '../../engine/errors';
import { runVerify } from '../../engine/jobs/read-jobs';
import { engineSettings, reportFinished, stallTimeoutMs, withCancel } from '../run-job';
import type { Command } from '../commands';

export const verifyCommand: Command = {
  help: `Usage: imprint verify IMAGE TARGET [--json]

Reads TARGET back (bypassing the page cache) and compares it with IMAGE's
uncompressed content. A mismatch names the first differing byte offset.`,
  async run(args, out) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
    const [image, target, extra] = positionals;
    if (!image || !target || extra) throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint verify IMAGE TARGET');
    const result = await withCancel(out, (signal) => runVerify(image, target, { decoders: engineSettings().decoders, stallTimeoutMs: stallTimeoutMs(), signal, onEvent: (e) => out.event(e) }));
    return reportFinished(out, result);
  },
};
