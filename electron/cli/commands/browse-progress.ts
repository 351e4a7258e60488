import { ImprintError } from '../../engine/errors';
import { parseFolderRef } from '../../engine/formats/backup-folder/folder-ref';
import { passphraseFor, passphraseFromOptions } from '../passphrase';
import type { Output } from '../output';

/** Progress of decoding a source without an index (ls and extract), as `decompressing` progress events about ten a second. */
export function decodeProgress(out: Output): (done: number, total: number | null) => void {
  let last = 0;
  const started = Date.now();
  return (done, total) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    out.event({ type: 'progress', jobId: 'browse', phase: 'decompressing', bytesDone: done, totalBytes: total, bytesPerSecond: rate, etaSeconds: total ? Math.max(0, (total - done) / rate) : null, targets: [] });
  };
}

/** The passphrase for `source` when it is a backup folder's FOLDER[#GEN] (ls and extract take --passphrase-file/--passphrase-env); null otherwise. */
export async function browsePassphrase(source: string, values: { 'passphrase-file'?: string | boolean; 'passphrase-env'?: string | boolean }): Promise<string | null> {
  const ref = parseFolderRef(source);
  if (!ref) {
    if (passphraseFromOptions(values) !== null) throw new ImprintError('E_BAD_ARGUMENTS', '--passphrase-file and --passphrase-env are for encrypted backup folders (FOLDER[#GEN]).');
    return null;
  }
  return passphraseFor(ref.folder, values);
}
