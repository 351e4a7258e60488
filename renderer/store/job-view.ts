import type { Drive } from '../../shared/drive';
import type { ErrorInfo } from '../../shared/error-codes';
import type { DownloadProgressInfo, JobEvent, JobFinishedEvent, JobKind, JobPhase, ProgressEvent, TargetProgress } from '../../shared/job-events';

/** Where a job stands, as the progress and result views show it. */
export type JobStatus = 'idle' | 'starting' | 'running' | 'finished';

/** One job's state in the store (flash, backup and restore each hold one). */
export interface JobView {
  status: JobStatus;
  jobId: string | null;
  kind: JobKind | null;
  /** What the job reads (the image, the backup, the drive backed up), from its job-started. */
  source: string | null;
  /** When the service started and ended it (ms since the epoch), when it said so. */
  startedAt: number | null;
  finishedAt: number | null;
  /** The drives as listed when the job started (model, size): the result names them. */
  drives: Drive[];
  phase: JobPhase | null;
  bytesDone: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
  compressionRatio: number | null;
  /** A flash from the web: the download's counters, and the stage that limits the pace, when the engine says. */
  download: DownloadProgressInfo | null;
  bottleneck: ProgressEvent['bottleneck'] | null;
  /** Recent bytesPerSecond samples, oldest first, for the throughput graph. */
  rateHistory: number[];
  targets: TargetProgress[];
  warnings: string[];
  /** Cancel was asked for and the job has not finished yet. */
  cancelling: boolean;
  result: JobFinishedEvent | null;
  /** Why the job failed as a whole (it could not start, or job-finished said so). */
  error: ErrorInfo | null;
}

/** Samples kept for the graph: about 12 s at the engine's ten events a second. */
export const RATE_HISTORY_LENGTH = 120;

export const IDLE_JOB: JobView = {
  status: 'idle',
  jobId: null,
  kind: null,
  source: null,
  startedAt: null,
  finishedAt: null,
  drives: [],
  phase: null,
  bytesDone: 0,
  totalBytes: null,
  bytesPerSecond: 0,
  etaSeconds: null,
  compressionRatio: null,
  download: null,
  bottleneck: null,
  rateHistory: [],
  targets: [],
  warnings: [],
  cancelling: false,
  result: null,
  error: null,
};

export const startingJob = (): JobView => ({ ...IDLE_JOB, status: 'starting' });

export const failedToStart = (error: ErrorInfo): JobView => ({ ...IDLE_JOB, status: 'finished', error });

/** The job's state after one more event from the engine. */
export function applyJobEvent(view: JobView, event: JobEvent): JobView {
  switch (event.type) {
    case 'job-started':
      // Heard again (a reconnecting client's replay): what followed it stands.
      if (view.jobId === event.jobId && view.targets.length > 0) return view;
      return {
        ...view,
        status: 'running',
        jobId: event.jobId,
        kind: event.kind,
        source: event.source,
        startedAt: timeOf(event.startedAt) ?? view.startedAt,
        phase: view.phase ?? 'preparing',
        totalBytes: event.totalBytes,
        targets: event.targets.map((device) => ({ device, status: 'pending', bytesWritten: 0, bytesVerified: 0 })),
      };
    case 'progress':
      if (view.status === 'finished') return view;
      return {
        ...view,
        status: 'running',
        phase: event.phase,
        bytesDone: event.bytesDone,
        totalBytes: event.totalBytes,
        bytesPerSecond: event.bytesPerSecond,
        etaSeconds: event.etaSeconds,
        compressionRatio: event.compressionRatio ?? view.compressionRatio,
        download: event.download ?? view.download,
        bottleneck: event.bottleneck ?? null,
        rateHistory: [...view.rateHistory, event.bytesPerSecond].slice(-RATE_HISTORY_LENGTH),
        targets: event.targets.length > 0 ? mergeFailures(event.targets, view.targets) : view.targets,
      };
    case 'target-failed':
      return {
        ...view,
        targets: upsertTarget(view.targets, event.device, (t) => ({ ...t, status: 'failed', error: event.error })),
      };
    case 'warning':
      return { ...view, warnings: [...view.warnings, event.message] };
    case 'job-finished': {
      const targets = event.targets.length > 0 ? mergeFailures(event.targets, view.targets) : view.targets;
      return {
        ...view,
        status: 'finished',
        finishedAt: timeOf(event.finishedAt) ?? view.finishedAt,
        phase: 'done',
        cancelling: false,
        etaSeconds: null,
        targets,
        result: event,
        error: event.ok ? null : (event.error ?? firstTargetError(targets) ?? { code: 'E_INTERNAL', message: 'The job failed without saying why.' }),
      };
    }
  }
}

/** An ISO time from the service as ms since the epoch; null when absent or unreadable. */
function timeOf(iso: string | undefined): number | null {
  if (iso === undefined) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** A target the engine reported failed stays failed, with its reason, even if a later sample lacks the error. */
function mergeFailures(next: TargetProgress[], prev: TargetProgress[]): TargetProgress[] {
  return next.map((t) => {
    const before = prev.find((p) => p.device === t.device);
    if (before?.status === 'failed' && t.status !== 'failed') return before;
    if (t.status === 'failed' && !t.error && before?.error) return { ...t, error: before.error };
    return t;
  });
}

function upsertTarget(list: TargetProgress[], device: string, change: (t: TargetProgress) => TargetProgress): TargetProgress[] {
  const found = list.some((t) => t.device === device);
  const base: TargetProgress = { device, status: 'pending', bytesWritten: 0, bytesVerified: 0 };
  return found ? list.map((t) => (t.device === device ? change(t) : t)) : [...list, change(base)];
}

function firstTargetError(targets: TargetProgress[]): ErrorInfo | undefined {
  return targets.find((t) => t.error)?.error;
}

/** Percent done in the current phase (0..100), or null when the total is unknown. */
export function percentOf(view: Pick<JobView, 'bytesDone' | 'totalBytes' | 'status' | 'result'>): number | null {
  if (view.status === 'finished') return view.result?.ok ? 100 : null;
  if (!view.totalBytes || view.totalBytes <= 0) return null;
  return Math.max(0, Math.min(100, Math.floor((view.bytesDone / view.totalBytes) * 100)));
}
