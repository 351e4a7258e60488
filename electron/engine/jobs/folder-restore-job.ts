import * as fs from 'fs';
import type { JobFinishedEvent, RestoreJobDetails } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import type { SourceInfo } from '../formats/image-source';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { holdFolderRef, holdForReading } from '../formats/backup-folder/folder-readers';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';
import { generationPath } from '../formats/backup-folder/folder-layout';
import { decodeFolderChunks } from '../pipelines/stored-chunks';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import type { EventSink } from './job-reporter';
import { runSmartRestore } from './smart-restore';

/**
 * Restores one generation of a backup folder with the smart restore: only
 * the stored ranges are written, each 4 MiB checked against the CRC-32 the
 * generation recorded and each piece against its name before it is written
 * (an encrypted folder's pieces also authenticated, and checked against
 * their keyed names), then read back from the drive.
 */

export { parseFolderRef } from '../formats/backup-folder/folder-ref';

export interface PreparedFolderRestore {
  folder: string;
  index: GenerationIndex;
  keys: FolderKeys | null;
  targets: TargetPlan[];
  /** Which file the index was read from (indexStamp), to tell whether it is still there when the restore runs. */
  indexStamp: string | null;
}

/**
 * The generation's index file as the filesystem identifies it: device,
 * inode, size and change times; null when it is gone. An index is written
 * once, to a temporary name renamed into place, and only prune removes it,
 * so the same stamp means the same index. Reading and checking it again
 * took 30-90 ms of a restore's start with 64 KiB pieces (12,258 of them).
 */
function indexStamp(folder: string, id: string): string | null {
  try {
    const st = fs.statSync(generationPath(folder, id), { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}

/** Reads and checks the generation's index (`passphrase`: of an encrypted folder) and the targets; writes nothing. */
export async function prepareFolderRestore(ref: string, targets: string[], passphrase?: string | null): Promise<PreparedFolderRestore> {
  const { folder, index, keys, hold } = holdFolderRef(ref, (f) => `a restore from ${f}`, passphrase);
  // Taken while the folder is held for reading, so no prune came between the index read and this.
  let stamp: string | null;
  try {
    stamp = indexStamp(folder, index.id);
  } finally {
    hold.release();
  }
  const plans = await planTargets(targets, { path: folder, size: index.metadata.size, isDevice: false });
  return { folder, index, keys, targets: plans, indexStamp: stamp };
}

export interface FolderRestoreRunOptions {
  verify: boolean;
  wipeFreeSpace?: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
}

/**
 * Registered as a reader for the whole restore, so no prune deletes a piece
 * under it (folder-readers.ts); a generation pruned since it was prepared is
 * refused before anything is written.
 */
export async function runFolderRestore(p: PreparedFolderRestore, opts: FolderRestoreRunOptions): Promise<JobFinishedEvent> {
  const hold = holdForReading(p.folder, `a restore from ${p.folder}`);
  try {
    if (p.indexStamp === null || indexStamp(p.folder, p.index.id) !== p.indexStamp) {
      throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${p.index.id} of ${p.folder} was removed or changed after it was chosen; nothing was written. Start the restore again.`);
    }
    return await restoreHeld(p, opts);
  } finally {
    hold.release();
  }
}

function restoreHeld(p: PreparedFolderRestore, opts: FolderRestoreRunOptions): Promise<JobFinishedEvent> {
  const m = p.index.metadata;
  const source = `${p.folder}#${p.index.id}`;
  const info: SourceInfo = { path: source, format: 'zstd', fileSize: 0, size: m.size, sizeEstimate: null, isDevice: false };
  const details: RestoreJobDetails = { kind: 'restore', backup: source, sha256: m.sha256, size: m.size, createdAt: m.createdAt, sourceModel: m.source.model, sourceSerial: m.source.serial, metadataFrom: 'sidecar' };
  return runSmartRestore(info, m, p.targets, {
    verify: opts.verify,
    wipeFreeSpace: opts.wipeFreeSpace === true,
    signal: opts.signal,
    onEvent: opts.onEvent,
    jobId: opts.jobId,
    details,
    // Pieces decode on the pool's threads, an encrypted folder's too: its threads get the piece and name keys.
    chunks: decodeFolderChunks(p.folder, p.index, { crcs: !opts.verify, keys: p.keys }),
  });
}
