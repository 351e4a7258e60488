import { randomBytes } from 'crypto';
import type { CheckJobDetails, JobFinishedEvent, TargetProgress } from '../../../shared/job-events';
import { unmountAll } from '../drives/unmount';
import { ImprintError, toErrorInfo } from '../errors';
import { blockDeviceSize } from '../io/block-device';
import { JobReporter, type EventSink } from './job-reporter';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import { spawnWorker } from '../worker-host';
import { DEFAULT_STALL_TIMEOUT_MS } from '../pipelines/write-pipeline-contract';
import { CAPACITY_CHECK_WORKER, type CapacityWorkerData, type FromCapacityWorker } from '../workers/capacity-check-protocol';
import { MARKER_BYTES, judgeMarkers, markerOffsets } from '../drives/capacity-markers';

/**
 * `imprint check`: a quick test of whether a drive holds what it claims,
 * before a long write. Writes a unique marker (its offset and this run's
 * random nonce) at some 100 places across the drive, reads every one back
 * around the page cache, and puts the original data back. A counterfeit
 * drive that wraps its addresses shows markers overwritten by others; one
 * that drops data past its real end shows markers lost from there on.
 */

export interface PreparedCheck {
  plan: TargetPlan;
  size: number;
  offsets: number[];
}

/** Applies flash's safety rules to the drive (system drive, read-only, in use...). Writes nothing. */
export async function prepareCheck(target: string): Promise<PreparedCheck> {
  const [plan] = await planTargets([target], { path: null, size: null, isDevice: false });
  if (!plan?.isBlockDevice) {
    throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${target} is not a drive: the capacity check tests a drive (/dev/...), not a file.`);
  }
  const size = blockDeviceSize(plan.path);
  if (size < 2 * MARKER_BYTES) throw new ImprintError('E_DEVICE_GONE', `${plan.path} reports a size of ${size} bytes: no medium, or the drive is gone.`);
  return { plan, size, offsets: markerOffsets(size) };
}

export interface CheckOptions {
  onEvent: EventSink;
  signal?: AbortSignal;
  /** No answer from the drive for this long means it hangs. */
  stallTimeoutMs?: number;
  jobId?: string;
}

/** Runs the check. The result's details say what the drive really holds; `ok` only when every marker came back. */
export async function runCapacityCheck(p: PreparedCheck, opts: CheckOptions): Promise<JobFinishedEvent> {
  const device = p.plan.path;
  const reporter = new JobReporter(opts.onEvent, 'check', opts.jobId);
  const progress: TargetProgress = { device, status: 'writing', bytesWritten: 0, bytesVerified: 0 };
  const count = p.offsets.length;
  reporter.started(device, [device], count * MARKER_BYTES);
  const finish = (ok: boolean, extra: Partial<JobFinishedEvent>): JobFinishedEvent => {
    reporter.stopSampling();
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: [{ ...progress }], bytes: count * MARKER_BYTES, ...extra };
    reporter.emit(event);
    return event;
  };
  const fail = (error: ImprintError): JobFinishedEvent => {
    progress.status = error.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
    progress.error = error.toInfo();
    return finish(false, { error: error.toInfo() });
  };

  try {
    if (p.plan.drive && p.plan.drive.mountpoints.length > 0) await unmountAll(device, p.plan.drive.mountpoints);
  } catch (err) {
    return fail(err instanceof ImprintError ? err : new ImprintError('E_TARGET_MOUNTED', String(err)));
  }
  const read = (): { done: number; total: number; targets: TargetProgress[] } => ({
    done: progress.status === 'verifying' ? progress.bytesVerified : progress.bytesWritten,
    total: count * MARKER_BYTES,
    targets: [progress],
  });
  reporter.phaseStarted('writing', read);
  const outcome = await runWorker(p, opts, (msg) => {
    if (msg.phase === 'writing') progress.bytesWritten = msg.done * MARKER_BYTES;
    else if (progress.status !== 'verifying') {
      progress.status = 'verifying';
      reporter.phaseStarted('verifying', read);
    }
    if (msg.phase === 'verifying') progress.bytesVerified = msg.done * MARKER_BYTES;
  });
  reporter.flush(read);
  if (outcome.type === 'error') return fail(new ImprintError(outcome.error.code, outcome.error.message, outcome.error.offset === undefined ? {} : { offset: outcome.error.offset }));
  if (outcome.cancelled) return fail(new ImprintError('E_CANCELLED', `The check of ${device} was cancelled; the data under the markers written so far was put back.`));

  const verdict = judgeMarkers(device, p.size, outcome.results);
  const details: CheckJobDetails = {
    kind: 'check',
    claimedBytes: verdict.claimedBytes,
    realBytesEstimate: verdict.realBytesEstimate,
    wrapsAt: verdict.wrapsAt,
    markers: count,
    failedMarkers: verdict.failedMarkers,
    restoredPages: outcome.restored,
    notRestoredPages: outcome.notRestored,
    failures: outcome.results.filter((r) => r.state !== 'intact').slice(0, 20),
  };
  if (!verdict.ok && verdict.error) {
    progress.status = 'failed';
    progress.error = verdict.error;
    reporter.targetFailed(device, verdict.error);
    return finish(false, { error: verdict.error, details });
  }
  progress.status = 'verified';
  reporter.phaseStarted('done', read);
  return finish(true, { details });
}

type Outcome = Extract<FromCapacityWorker, { type: 'done' | 'error' }>;

function runWorker(p: PreparedCheck, opts: CheckOptions, onProgress: (msg: Extract<FromCapacityWorker, { type: 'progress' }>) => void): Promise<Outcome> {
  const data: CapacityWorkerData = { target: p.plan.path, offsets: p.offsets, nonce: randomBytes(16).toString('hex') };
  // On the job's cancel the worker stops, and still puts back the data under the markers it wrote.
  const worker = spawnWorker(CAPACITY_CHECK_WORKER, data, { signal: opts.signal });
  const limit = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  let last = Date.now();
  let watchdog: NodeJS.Timeout | null = null;
  return new Promise<Outcome>((resolve) => {
    worker.onCrash((err) => resolve({ type: 'error', error: toErrorInfo(new ImprintError('E_INTERNAL', `The capacity check thread crashed: ${err.message}`)) }));
    worker.onMessage((msg) => {
      last = Date.now();
      if (msg.type === 'progress') onProgress(msg);
      else resolve(msg);
    });
    // Each marker is one 4 KiB write or read: a drive silent for the whole limit hangs.
    watchdog = setInterval(() => {
      if (Date.now() - last <= limit) return;
      const secs = limit >= 1000 ? `${Math.round(limit / 1000)} s` : `${limit} ms`;
      resolve({ type: 'error', error: { code: 'E_DEVICE_HUNG', message: `${p.plan.path}: the drive stopped responding. It answered nothing for ${secs} during the capacity check. Unplug it; it may be failing.` } });
    }, Math.min(1000, limit / 2));
    watchdog.unref();
  }).finally(async () => {
    if (watchdog) clearInterval(watchdog);
    await worker.terminate();
  });
}
