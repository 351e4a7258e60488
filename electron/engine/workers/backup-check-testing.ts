import * as fs from 'fs';
import type { BackupCompression } from '../../../shared/backup-metadata';
import type { ErrorInfo } from '../../../shared/error-codes';
import { spawnWorker } from '../worker-host';
import { BACKUP_CHECK_WORKER, type CheckWorkerData } from './backup-messages';

/** What the read-back check thread answered: the content's per-chunk CRC-32s, or its error. */
export type CheckOutcome = { ok: true; contentBytes: number; crcs: number[] } | { ok: false; error: ErrorInfo };

/**
 * Runs the backup's read-back check thread over `file` as a backup would:
 * the file announced in `step`-byte pieces, then as final. `level`: the zstd
 * level the writer used (lets the thread recognise its zero frames).
 */
export async function runBackupCheck(file: string, opts: { compression: BackupCompression; chunkSize: number; step: number; level?: number }): Promise<CheckOutcome> {
  const data: CheckWorkerData = { file, compression: opts.compression, chunkSize: opts.chunkSize, ...(opts.level === undefined ? {} : { level: opts.level }) };
  const worker = spawnWorker(BACKUP_CHECK_WORKER, data);
  try {
    return await new Promise<CheckOutcome>((resolve, reject) => {
      worker.onError(reject);
      worker.onMessage((msg) => {
        if (msg.type === 'done') resolve({ ok: true, contentBytes: msg.contentBytes, crcs: msg.crcs });
        else if (msg.type === 'error') resolve({ ok: false, error: msg.error });
      });
      const size = fs.statSync(file).size;
      for (let at = opts.step; at < size; at += opts.step) worker.post({ type: 'available', bytes: at });
      worker.post({ type: 'final', bytes: size });
    });
  } finally {
    await worker.terminate();
  }
}
