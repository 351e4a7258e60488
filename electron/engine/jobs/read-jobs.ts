import * as fs from 'fs';
import type { HashAlgorithm, JobFinishedEvent, TargetProgress } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { ImprintError } from '../errors';
import { inspectSource } from '../formats/image-source';
import { JobReporter, type EventSink } from './job-reporter';
import { verifyTargets } from '../pipelines/verify-targets';
import { CHUNK_SIZE, WritePipeline } from '../pipelines/write-pipeline';

/**
 * Jobs that only read: the digest of an image's content (or a drive's first
 * bytes), and the check of a drive against an image. Both reuse the write
 * pipeline with no targets, so reading and decompressing still happen on a
 * worker thread.
 */

export async function runHash(
  path: string,
  opts: { algorithm: HashAlgorithm; size?: number | null; signal?: AbortSignal; onEvent: EventSink },
): Promise<JobFinishedEvent> {
  const info = await inspectSource(path);
  if (opts.size != null && info.size !== null && opts.size > info.size) {
    throw new ImprintError('E_BAD_ARGUMENTS', `--size ${opts.size} is larger than ${path} (${info.size} bytes).`);
  }
  const reporter = new JobReporter(opts.onEvent, 'hash');
  const total = opts.size ?? info.size;
  reporter.started(path, [], total);
  const pipeline = new WritePipeline(info, [], { contentHashes: [opts.algorithm], fileHash: false, limit: opts.size ?? null, signal: opts.signal });
  const read = (): { done: number; total: number | null; targets: TargetProgress[] } => ({ done: pipeline.sourceBytes, total, targets: [] });
  reporter.phaseStarted('decompressing', read);
  const result = await pipeline.run();
  reporter.flush(read);
  const finished: JobFinishedEvent = {
    type: 'job-finished',
    jobId: reporter.jobId,
    ok: result.error === null && result.end !== null,
    targets: [],
    bytes: result.end?.bytes ?? pipeline.sourceBytes,
    ...(result.end ? { digests: result.end.contentDigests } : {}),
    ...(result.error ? { error: result.error.toInfo() } : {}),
  };
  if (opts.size != null && result.end && result.end.bytes < opts.size) {
    finished.ok = false;
    finished.error = new ImprintError('E_SOURCE_CHANGED', `${path} holds only ${result.end.bytes} bytes, fewer than --size ${opts.size}.`).toInfo();
  }
  reporter.emit(finished);
  return finished;
}

export async function runVerify(
  image: string,
  target: string,
  opts: { signal?: AbortSignal; onEvent: EventSink; stallTimeoutMs?: number },
): Promise<JobFinishedEvent> {
  const info = await inspectSource(image);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new ImprintError('E_TARGET_NOT_FOUND', `${target} does not exist.`);
  }
  if (!stat.isBlockDevice() && !stat.isFile()) throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${target} is neither a drive nor a file.`);
  const reporter = new JobReporter(opts.onEvent, 'verify');
  reporter.started(image, [target], info.size);
  const progress: TargetProgress = { device: target, status: 'pending', bytesWritten: 0, bytesVerified: 0 };
  const pipeline = new WritePipeline(info, [], { contentHashes: ['sha256'], fileHash: false, signal: opts.signal });
  const reading = (): { done: number; total: number | null; targets: TargetProgress[] } => ({ done: pipeline.sourceBytes, total: info.size, targets: [progress] });
  reporter.phaseStarted('decompressing', reading);
  const result = await pipeline.run();
  reporter.flush(reading);
  if (result.error || !result.end) {
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok: false, targets: [progress], bytes: pipeline.sourceBytes, error: (result.error ?? new ImprintError('E_INTERNAL', 'The image was not read to its end.')).toInfo() };
    reporter.emit(event);
    return event;
  }
  const bytes = result.end.bytes;
  const verifying = (): { done: number; total: number; targets: TargetProgress[] } => ({ done: progress.bytesVerified, total: bytes, targets: [progress] });
  reporter.phaseStarted('verifying', verifying);
  await verifyTargets(info, [{ progress, isBlockDevice: stat.isBlockDevice() }], result.crcs, bytes, CHUNK_SIZE, opts.signal, opts.stallTimeoutMs);
  reporter.flush(verifying);
  // Nothing was written here: a difference means the drive holds something else, not that a write failed.
  const offset = progress.error?.offset;
  if (progress.error?.code === 'E_VERIFY_MISMATCH' && offset !== undefined) {
    progress.error = { ...progress.error, message: `${target} does not hold this image: the first differing byte is at offset ${offset}${offset > 0 ? ` (${formatBytes(offset)} in)` : ' (the very start)'}.` };
  }
  const ok = progress.status === 'verified';
  if (!ok && progress.error) reporter.targetFailed(target, progress.error);
  const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: [progress], bytes, digests: result.end.contentDigests, ...(progress.error ? { error: progress.error } : {}) };
  reporter.emit(event);
  return event;
}
