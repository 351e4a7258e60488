import type { JobFinishedEvent, RestoreJobDetails } from '../../../shared/job-events';
import type { SourceInfo } from '../formats/image-source';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { resolveFolderRef } from '../formats/backup-folder/folder-ref';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';
import { generationContent } from '../formats/backup-folder/generation-content';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import type { EventSink } from './job-reporter';
import { runSmartRestore } from './smart-restore';

/**
 * Restores one generation of a backup folder with the smart restore: only
 * the stored ranges are written, each 4 MiB checked against the CRC-32 the
 * generation recorded, each piece against its SHA-256 name, all the stored
 * data against the recorded SHA-256 before the partition table is written,
 * then read back from the drive.
 */

export { parseFolderRef } from '../formats/backup-folder/folder-ref';

export interface PreparedFolderRestore {
  folder: string;
  index: GenerationIndex;
  keys: FolderKeys | null;
  targets: TargetPlan[];
}

/** Reads and checks the generation's index (`passphrase`: of an encrypted folder) and the targets; writes nothing. */
export async function prepareFolderRestore(ref: string, targets: string[], passphrase?: string | null): Promise<PreparedFolderRestore> {
  const { folder, index, keys } = resolveFolderRef(ref, passphrase);
  const plans = await planTargets(targets, { path: folder, size: index.metadata.size, isDevice: false });
  return { folder, index, keys, targets: plans };
}

export interface FolderRestoreRunOptions {
  verify: boolean;
  wipeFreeSpace?: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
}

export function runFolderRestore(p: PreparedFolderRestore, opts: FolderRestoreRunOptions): Promise<JobFinishedEvent> {
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
    content: generationContent(p.folder, p.index, opts.signal, p.keys),
  });
}
