import type { JobEvent } from '../../shared/job-events';
import type { AppState, SetState, SliceCreator } from './app-store';
import { applyJobEvent, type JobView } from './job-view';

/** The three screens that run jobs; each holds one JobView under `job`. */
export type JobSlot = 'flash' | 'backup' | 'restore';

const SLOTS: readonly JobSlot[] = ['flash', 'backup', 'restore'];

/** Events kept for jobs not yet known to any slot, at most this many. */
const MAX_ORPHAN_EVENTS = 500;

export interface JobsState {
  /**
   * Events for job ids no slot knows yet. The service may push a job's first
   * events before the call that started it has answered; they wait here.
   */
  orphans: JobEvent[];
}

export interface JobsSlice {
  jobs: JobsState;
  jobEventReceived(event: JobEvent): void;
  /** The service accepted the job a slot asked for. */
  jobStarted(slot: JobSlot, jobId: string): void;
  cancelRequested(slot: JobSlot): Promise<void>;
}

/** Replaces a slot's JobView. */
export function setJob(set: SetState, slot: JobSlot, change: (job: JobView) => JobView): void {
  set((s) => ({ [slot]: { ...s[slot], job: change(s[slot].job) } }) as Partial<AppState>);
}

function slotOf(s: AppState, jobId: string): JobSlot | null {
  return SLOTS.find((slot) => s[slot].job.jobId === jobId) ?? null;
}

export const createJobsSlice: SliceCreator<JobsSlice> = (set, get, api) => ({
  jobs: { orphans: [] },

  jobEventReceived: (event) => {
    const slot = slotOf(get(), event.jobId);
    if (slot) {
      setJob(set, slot, (job) => applyJobEvent(job, event));
      return;
    }
    set((s) => ({ jobs: { orphans: [...s.jobs.orphans, event].slice(-MAX_ORPHAN_EVENTS) } }));
  },

  jobStarted: (slot, jobId) => {
    const waiting = get().jobs.orphans.filter((e) => e.jobId === jobId);
    set((s) => ({ jobs: { orphans: s.jobs.orphans.filter((e) => e.jobId !== jobId) } }));
    setJob(set, slot, (job) => waiting.reduce(applyJobEvent, { ...job, jobId, status: job.status === 'starting' ? 'running' : job.status }));
    // Cancel pressed before the service answered: pass it on now that there is an id.
    if (get()[slot].job.cancelling && get()[slot].job.status !== 'finished') void api.cancelJob({ jobId });
  },

  cancelRequested: async (slot) => {
    const job = get()[slot].job;
    if (job.status !== 'starting' && job.status !== 'running') return;
    setJob(set, slot, (j) => ({ ...j, cancelling: true }));
    if (job.jobId === null) return; // jobStarted sends it
    const result = await api.cancelJob({ jobId: job.jobId });
    if (!result.ok) {
      setJob(set, slot, (j) => ({ ...j, cancelling: false, warnings: [...j.warnings, `Could not cancel: ${result.error.message}`] }));
    }
  },
});
