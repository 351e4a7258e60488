import type { BackupMetadata } from '../../../shared/backup-metadata';
import type { JobFinishedEvent, RestoreJobDetails } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import type { DecoderChoice } from '../formats/image-kind';
import type { ZeroOutMode } from '../io/zero-runs';
import type { VerifyWhileWriting } from '../pipelines/write-pipeline-contract';
import { FORMAT_LABELS } from '../formats/detect-format';
import { inspectSource, type SourceInfo } from '../formats/image-source';
import type { PreparedFlash } from './flash-job';
import type { EventSink } from './job-reporter';
import { planTargets } from '../pipelines/target-plan';
import { findBackupMetadata, type MetadataSource } from '../formats/backup-metadata';
import { runSmartRestore } from './smart-restore';

export interface RestoreJobRequest {
  backup: string;
  targets: string[];
  /** Decoders chosen at the edge (engine-settings.ts). */
  decoders?: DecoderChoice;
}

/** A restore checked and ready: the flash it amounts to, and what the backup says about itself. */
export interface PreparedRestore {
  flash: PreparedFlash;
  metadata: BackupMetadata;
  metadataFrom: MetadataSource;
  /** Things a person should know (a sidecar that disagrees with the file...). */
  notes: string[];
}

/**
 * Reads a backup's metadata and checks the restore against it before
 * anything is written: the file is what the metadata describes, it is not
 * visibly truncated, and every target holds at least the recorded size.
 */
export async function prepareRestore(req: RestoreJobRequest): Promise<PreparedRestore> {
  const source = await inspectSource(req.backup, { decoders: req.decoders });
  if (source.isDevice) throw new ImprintError('E_BAD_ARGUMENTS', `${req.backup} is a drive, not a backup file. To copy a drive onto another, use imprint clone.`);
  const found = findBackupMetadata(req.backup);
  if (!found) {
    throw new ImprintError(
      'E_NOT_A_BACKUP',
      `${req.backup} is not an Imprint backup: it carries no backup metadata, and there is no ${req.backup}.json beside it. To write an image without a recorded checksum, use imprint flash.`,
    );
  }
  const m = found.metadata;
  let info: SourceInfo;
  if (m.compression === 'none') {
    // A raw backup is raw whatever its first bytes look like (a drive may begin with a gzip magic).
    info = { ...source, format: 'raw', size: source.fileSize, sizeEstimate: null };
    delete info.zipEntry;
  } else if (source.format !== m.compression) {
    throw new ImprintError('E_NOT_A_BACKUP', `The metadata found for ${req.backup} (in ${found.from === 'sidecar' ? `${req.backup}.json` : 'the file'}) describes a ${m.compression} backup, but the file is ${FORMAT_LABELS[source.format]}: they do not belong together.`);
  } else info = { ...source };
  if (info.size !== null && info.size !== m.size) {
    throw new ImprintError('E_CORRUPT_SOURCE', `${req.backup} holds ${info.size} bytes of drive content, but the backup recorded ${m.size}: the file is truncated or damaged. Nothing was written.`);
  }
  // The recorded size lets the reader prove the content complete, and the target check refuse small drives.
  info.size = m.size;
  const targets = await planTargets(req.targets, { path: info.path, size: m.size, isDevice: false });
  const checksum = {
    sha256: m.sha256,
    from: "the SHA-256 the backup recorded of the drive",
    contentOnly: true,
    whenMismatched: 'The backup file is corrupt or incomplete',
  };
  return { flash: { source: info, targets, checksum }, metadata: m, metadataFrom: found.from, notes: found.notes };
}

export interface RestoreRunOptions {
  verify: boolean;
  /** A smart backup leaves the target's free space as it was; this zeroes it. */
  wipeFreeSpace?: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
  stallTimeoutMs?: number;
  verifyWhileWriting?: VerifyWhileWriting;
  zeroOut?: ZeroOutMode;
}

/**
 * Writes the backup with the flash engine: its SHA-256 is checked while
 * writing (on a mismatch the targets' first MiB, with the partition table, is
 * never written), then each target is read back from the device and compared.
 */
export function runRestore(p: PreparedRestore, opts: RestoreRunOptions): Promise<JobFinishedEvent> {
  const m = p.metadata;
  const details: RestoreJobDetails = { kind: 'restore', backup: p.flash.source.path, sha256: m.sha256, size: m.size, createdAt: m.createdAt, sourceModel: m.source.model, sourceSerial: m.source.serial, metadataFrom: p.metadataFrom };
  if (m.storage?.mode === 'used-blocks') {
    // A smart backup: only what it stored is written and checked (smart-restore.ts).
    return runSmartRestore(p.flash.source, m, p.flash.targets, { verify: opts.verify, wipeFreeSpace: opts.wipeFreeSpace === true, signal: opts.signal, onEvent: opts.onEvent, jobId: opts.jobId, details });
  }
  // Only a whole-drive backup is written by the flash engine: a smart restore does not load its
  // dozen modules (write pipeline, verifier threads' host) before it starts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runFlash } = require('./flash-job') as typeof import('./flash-job');
  // The run options are a flash's, plus what the job says about itself.
  return runFlash(p.flash, {
    ...opts,
    kind: 'restore',
    details,
  });
}
