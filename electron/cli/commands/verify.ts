import { parseArgs } from 'util';
import { runVerify } from '../../engine/jobs/read-jobs';
import { engineSettings, reportFinished, stallTimeoutMs, withCancel } from '../run-job';
import type { Command } from '../commands';
import { positionalArgs } from '../arguments';

export const verifyCommand: Command = {
  help: `Usage: imprint verify IMAGE TARGET [--json]

Reads TARGET back (bypassing the page cache) and compares it with IMAGE's
uncompressed content. A mismatch names the first differing byte offset.`,
  async run(args, out) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
    const [image, target] = positionalArgs('verify', positionals, 'IMAGE TARGET') as [string, string];
    // The first phase reads (and decompresses) the image; the second reads the drive back and compares.
    out.namePhases({ decompressing: 'reading image' });
    const result = await withCancel(out, (signal) => runVerify(image, target, { decoders: engineSettings().decoders, stallTimeoutMs: stallTimeoutMs(), signal, onEvent: (e) => out.event(e) }));
    return reportFinished(out, result, { verified: 'verified: it holds this image' });
  },
};
