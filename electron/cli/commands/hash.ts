import { parseArgs } from 'util';
import type { HashAlgorithm } from '../../../shared/job-events';
import { ImprintError } from '../../engine/errors';
import { HASH_ALGORITHMS } from '../../engine/hash/content-hasher';
import { runHash } from '../../engine/jobs/read-jobs';
import { engineSettings, withCancel } from '../run-job';
import { exitCodeFor } from '../../../shared/error-codes';
import type { Command } from '../commands';

export const hashCommand: Command = {
  help: `Usage: imprint hash IMAGE_OR_DEVICE [--algo sha256|sha1|md5|xxh3] [--size N] [--json]

Prints the digest of the uncompressed content (what a published checksum of
the .img or .iso refers to), or of a drive's first N bytes with --size.`,
  async run(args, out) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { algo: { type: 'string', default: 'sha256' }, size: { type: 'string' }, json: { type: 'boolean' } },
    });
    const [path, extra] = positionals;
    if (!path || extra) throw new ImprintError('E_BAD_ARGUMENTS', 'Usage: imprint hash IMAGE_OR_DEVICE [--algo ...]');
    const algorithm = values.algo as HashAlgorithm;
    if (!HASH_ALGORITHMS.includes(algorithm)) throw new ImprintError('E_BAD_ARGUMENTS', `--algo takes one of ${HASH_ALGORITHMS.join(', ')}; got "${values.algo}".`);
    const size = values.size === undefined ? null : Number(values.size);
    if (size !== null && !(Number.isSafeInteger(size) && size > 0)) throw new ImprintError('E_BAD_ARGUMENTS', `--size takes a positive number of bytes; got "${values.size}".`);
    const result = await withCancel(out, (signal) => runHash(path, { algorithm, size, decoders: engineSettings().decoders, signal, onEvent: (e) => (out.json ? out.event(e) : e.type === 'progress' && out.event(e)) }));
    out.done();
    if (!result.ok || !result.digests?.[algorithm]) {
      const error = result.error ?? { code: 'E_INTERNAL' as const, message: 'No digest was computed.' };
      if (!out.json) out.info(`imprint hash: ${error.message}`);
      return exitCodeFor(error.code);
    }
    if (!out.json) out.result(`${result.digests[algorithm]}  ${path}`);
    return 0;
  },
};
