import * as fs from 'fs';
import type { JobFinishedEvent, RestoreJobDetails } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import type { SourceInfo } from '../formats/image-source';
import { openFolder } from '../formats/backup-folder/folder-layout';
import { resolveGeneration, type GenerationIndex } from '../formats/backup-folder/generation-index';
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

/** FOLDER or FOLDER#GEN, when FOLDER is a folder; null when `ref` names something else (a backup file). */
export function parseFolderRef(ref: string): { folder: string; generation: string | undefined } | null {
  const isDir = (p: string): boolean => {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (isDir(ref)) return { folder: ref, generation: undefined };
  const hash = ref.lastIndexOf('#');
  if (hash > 0 && isDir(ref.slice(0, hash))) return { folder: ref.slice(0, hash), generation: ref.slice(hash + 1) };
  return null;
}

export interface PreparedFolderRestore {
  folder: string;
  index: GenerationIndex;
  targets: TargetPlan[];
}

/** Reads and checks the generation's index and the targets; writes nothing. */
export async function prepareFolderRestore(ref: string, targets: string[]): Promise<PreparedFolderRestore> {
  const parsed = parseFolderRef(ref);
  if (!parsed) throw new ImprintError('E_SOURCE_NOT_FOUND', `${ref} is not a backup folder.`);
  openFolder(parsed.folder);
  const index = resolveGeneration(parsed.folder, parsed.generation);
  const plans = await planTargets(targets, { path: parsed.folder, size: index.metadata.size, isDevice: false });
  return { folder: parsed.folder, index, targets: plans };
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
    content: generationContent(p.folder, p.index, opts.signal),
  });
}
