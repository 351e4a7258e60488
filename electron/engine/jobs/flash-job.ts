import type { ErrorInfo } from '../../../shared/error-codes';
import type { HashAlgorithm, JobDetails, JobFinishedEvent, JobKind, ProgressEvent, TargetProgress } from '../../../shared/job-events';
import { ImprintError, toErrorInfo } from '../errors';
import { unmountAll } from '../drives/unmount';
import type { DecoderChoice } from '../formats/image-kind';
import { inspectSource, type SourceInfo } from '../formats/image-source';
import type { ZeroOutMode } from '../io/zero-runs';
import { DEFAULT_ENGINE_SETTINGS } from './engine-settings';
import { JobReporter, type EventSink } from './job-reporter';
import { confirmedMinSize } from './size-hint-check';
import { findPublishedChecksum, isSha256Hex, type PublishedChecksum } from './published-checksum';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import { verifyTargets } from '../pipelines/verify-targets';
import { CHUNK_SIZE, WritePipeline } from '../pipelines/write-pipeline';
import type { VerifyWhileWriting } from '../pipelines/write-pipeline-contract';

export interface FlashRequest {
  image: string;
  targets: string[];
  /** A SHA-256 the user gave; otherwise one published beside the image is used if present. */
  sha256?: string | null;
  /** Decoders chosen at the edge (engine-settings.ts). */
  decoders?: DecoderChoice;
}

/** Everything checked before a byte is written; shown to the user for confirmation. */
export interface PreparedFlash {
  source: SourceInfo;
  targets: TargetPlan[];
  checksum: PublishedChecksum | null;
}

/** Inspects the image and the targets and applies every safety rule. Writes nothing. */
export async function prepareFlash(req: FlashRequest): Promise<PreparedFlash> {
  let checksum: PublishedChecksum | null = null;
  if (req.sha256 != null) {
    if (!isSha256Hex(req.sha256)) throw new ImprintError('E_BAD_ARGUMENTS', `--sha256 takes 64 hexadecimal digits; got "${req.sha256}".`);
    checksum = { sha256: req.sha256.toLowerCase(), from: '--sha256' };
  }
  const source = await inspectSource(req.image, { decoders: req.decoders });
  const targets = await planTargets(req.targets, { path: source.path, size: source.size, minSize: await confirmedMinSize(source, req.targets), isDevice: source.isDevice });
  checksum ??= source.isDevice ? null : findPublishedChecksum(source.path);
  return { source, targets, checksum };
}

export interface RunOptions {
  verify: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  stallTimeoutMs?: number;
  /** The id the job's events carry; a fresh UUID when absent. */
  jobId?: string;
  /** Restore and clone are flashes too; their events say which. */
  kind?: JobKind;
  /** When chunks may be read back before the write ends; 'when-idle' by default (the edges read IMPRINT_VERIFY_WHILE_WRITING: engine-settings.ts). */
  verifyWhileWriting?: VerifyWhileWriting;
  /** How runs of zeros reach the drives (io/zero-runs.ts). */
  zeroOut?: ZeroOutMode;
  /** More for each writing progress event (a download's counters; 'network' when the decoder waits on it). */
  progressExtra?: (bottleneck: 'decompression' | 'drive') => Partial<ProgressEvent>;
  /** The caller sent job-started already (a flash from a URL announces the job before downloading). */
  announced?: boolean;
  /** Extra facts for the final event (the backup restored...). */
  details?: JobDetails;
  /** Digests of the content the caller needs besides any checksum's (a raw download's SHA-256 for the cache), in the final event's `digests`. */
  contentHashes?: HashAlgorithm[];
  /** Hears the CRC-32 of every chunk of the image once it was written whole (a URL's download is cached under them). */
  onChunkCrcs?: (crcs: readonly number[], chunkSize: number) => void;
}

/**
 * Writes a prepared image to its targets, then reads each back from the
 * device and checks it. Every target's outcome is data in the final event;
 * one failing drive does not stop the others.
 */
export async function runFlash(prepared: PreparedFlash, opts: RunOptions): Promise<JobFinishedEvent> {
  const { source, targets, checksum } = prepared;
  const reporter = new JobReporter(opts.onEvent, opts.kind ?? 'flash', opts.jobId);
  if (!opts.announced) reporter.started(source.path, targets.map((t) => t.path), source.size);
  const finish = (ok: boolean, progress: TargetProgress[], bytes: number, extra: Partial<JobFinishedEvent> = {}): JobFinishedEvent => {
    reporter.stopSampling();
    // A drive that was written to and then failed no longer holds what it held: every front end says so plainly.
    const touched = (p: TargetProgress): boolean => p.bytesWritten > 0 && (p.status === 'failed' || p.status === 'cancelled');
    for (const p of progress) if (touched(p) && p.error) p.error = withOldDataGone(p.error);
    if (extra.error && progress.some(touched)) extra.error = withOldDataGone(extra.error);
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: progress, bytes, ...(opts.details ? { details: opts.details } : {}), ...extra };
    reporter.emit(event);
    return event;
  };

  reporter.phaseStarted('preparing', () => ({ done: 0, total: source.size, targets: [] }));
  const pipeline = new WritePipeline(
    source,
    targets,
    {
      contentHashes: [...new Set<HashAlgorithm>([...(checksum ? (['sha256'] as const) : []), ...(opts.contentHashes ?? [])])],
      fileHash: checksum !== null && !checksum.contentOnly && source.format !== 'raw',
      signal: opts.signal,
      stallTimeoutMs: opts.stallTimeoutMs,
      verifyWhileWriting: opts.verify ? (opts.verifyWhileWriting ?? DEFAULT_ENGINE_SETTINGS.verifyWhileWriting) : 'off',
      zeroOut: opts.zeroOut,
      beforeFinish: (end) => {
        if (!checksum) return null;
        const matches = end.contentDigests.sha256 === checksum.sha256 || end.fileSha256 === checksum.sha256;
        return matches
          ? null
          : new ImprintError('E_CHECKSUM_MISMATCH', `The image's SHA-256 does not match ${checksum.from} (expected ${checksum.sha256}, got ${end.contentDigests.sha256}). ${checksum.whenMismatched ?? 'The download is corrupt or incomplete'}; the drives were left unbootable.`);
      },
    },
    (device, error) => reporter.targetFailed(device, error),
  );
  const progress = pipeline.targets.map((t) => t.progress);

  try {
    for (const t of targets) {
      if (t.drive && t.drive.mountpoints.length > 0) await unmountAll(t.path, t.drive.mountpoints);
    }
  } catch (err) {
    return finish(false, progress, 0, { error: toErrorInfo(err) });
  }

  const writing = (): { done: number; total: number | null; targets: TargetProgress[]; extra: Partial<ProgressEvent> } => {
    const live = progress.filter((p) => p.status === 'writing' || p.status === 'written');
    const done = live.length > 0 ? Math.min(...live.map((p) => p.bytesWritten)) : pipeline.sourceBytes;
    const bottleneck = pipeline.bottleneck();
    return { done, total: source.size ?? source.sizeEstimate, targets: progress, extra: { bottleneck, ...opts.progressExtra?.(bottleneck) } };
  };
  reporter.phaseStarted('writing', writing);
  try {
    const result = await pipeline.run();
    reporter.flush(writing);
    const bytes = result.end?.bytes ?? pipeline.sourceBytes;
    const digests = result.end?.contentDigests;
    if (result.cancelled || result.error) {
      return finish(false, progress, bytes, { error: (result.error ?? new ImprintError('E_CANCELLED', 'Cancelled.')).toInfo(), ...(digests ? { digests } : {}) });
    }

    if (result.end) opts.onChunkCrcs?.(result.crcs, CHUNK_SIZE);
    const written = pipeline.targets.filter((t) => t.progress.status === 'written');
    if (opts.verify && written.length > 0) {
      const verifying = (): { done: number; total: number; targets: TargetProgress[] } => {
        const active = written.map((t) => t.progress.bytesVerified);
        return { done: Math.min(...active), total: bytes, targets: progress };
      };
      reporter.phaseStarted('verifying', verifying);
      const tasks = written.map((t) => ({ progress: t.progress, isBlockDevice: t.plan.isBlockDevice, verifier: t.readback?.verifier ?? null, checked: t.readback?.checked }));
      await verifyTargets(source, tasks, result.crcs, bytes, CHUNK_SIZE, opts.signal, opts.stallTimeoutMs);
      reporter.flush(verifying);
      for (const t of written) if (t.progress.status === 'failed' && t.progress.error) reporter.targetFailed(t.progress.device, t.progress.error);
    }
    const ok = progress.every((p) => p.status === (opts.verify ? 'verified' : 'written'));
    reporter.phaseStarted('done', () => ({ done: bytes, total: bytes, targets: progress }));
    const firstError = progress.find((p) => p.error)?.error;
    return finish(ok, progress, bytes, { ...(digests ? { digests } : {}), ...(ok || !firstError ? {} : { error: firstError }) });
  } finally {
    // Targets the job did not get to verify keep their read-back threads until here.
    await Promise.all(pipeline.targets.map((t) => t.readback?.verifier.stop()));
  }
}

const OLD_DATA_ERASED = "The drive's old data is erased: flash or format it again before use.";

function withOldDataGone(error: ErrorInfo): ErrorInfo {
  return error.message.includes('old data is erased') ? error : { ...error, message: `${error.message} ${OLD_DATA_ERASED}` };
}
