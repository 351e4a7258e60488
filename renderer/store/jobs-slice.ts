import type { JobEvent, JobKind } from '../../shared/job-events';
import type { AppState, SetState, SliceCreator } from './app-store';
import { applyJobEvent, IDLE_JOB, type JobView } from './job-view';

/** The screens that run jobs; each holds one JobView under `job`. */
export type JobSlot = 'flash' | 'backup' | 'restore' | 'format';

const SLOTS: readonly JobSlot[] = ['flash', 'backup', 'restore', 'format'];

/** Events kept for jobs not yet known to any slot, at most this many. */
const MAX_ORPHAN_EVENTS = 500;

/** A job some client started that has not ended: its drives are busy on every screen. */
export interface RunningJob {
  kind: JobKind;
  /** Its source and targets as job-started named them (devices and files alike: only devices match a drive). */
  paths: string[];
}

export interface JobsState {
  /**
   * Events for job ids no slot knows yet. The service may push a job's first
   * events before the call that started it has answered; they wait here.
   */
  orphans: JobEvent[];
  /** Every job that has started and not finished, by id, whichever window or tab started it. */
  running: Record<string, RunningJob>;
}

export interface JobsSlice {
  jobs: JobsState;
  jobEventReceived(event: JobEvent): void;
  /** The service accepted the job a slot asked for. */
  jobStarted(slot: JobSlot, jobId: string): void;
  /** The drive list arrived after a job's start (a reload): the job's drives get their model and size. */
  jobDrivesListed(): void;
  cancelRequested(slot: JobSlot): Promise<void>;
  /** At start-up: ask the service which jobs run (a reload or a new window must not lose them). */
  jobSnapshotsRequested(): Promise<void>;
  /** The service's jobs as they stand: running ones are shown on their screen, their drives marked busy. */
  jobSnapshotsReceived(events: JobEvent[]): void;
}

/** Which screen shows a job of this kind (verify, check... have none: their drives are only marked busy). */
export function slotForKind(kind: JobKind): JobSlot | null {
  if (kind === 'flash' || kind === 'restore' || kind === 'format') return kind;
  if (kind === 'backup' || kind === 'rescue') return 'backup';
  return null;
}

/** Replaces a slot's JobView. */
export function setJob(set: SetState, slot: JobSlot, change: (job: JobView) => JobView): void {
  set((s) => ({ [slot]: { ...s[slot], job: change(s[slot].job) } }) as Partial<AppState>);
}

function slotOf(s: AppState, jobId: string): JobSlot | null {
  return SLOTS.find((slot) => s[slot].job.jobId === jobId) ?? null;
}

/** The running-job table after one more event. */
function runningAfter(running: Record<string, RunningJob>, event: JobEvent): Record<string, RunningJob> {
  if (event.type === 'job-started') return { ...running, [event.jobId]: { kind: event.kind, paths: [event.source, ...event.targets] } };
  if (event.type === 'job-finished' && event.jobId in running) {
    const rest = { ...running };
    delete rest[event.jobId];
    return rest;
  }
  return running;
}

/** Devices in use by a running job, with the kind of job using each. */
export function busyDevices(s: { jobs: Pick<JobsState, 'running'> }): Map<string, JobKind> {
  const out = new Map<string, JobKind>();
  for (const job of Object.values(s.jobs.running)) for (const p of job.paths) if (p.startsWith('/dev/')) out.set(p, job.kind);
  return out;
}

export const createJobsSlice: SliceCreator<JobsSlice> = (set, get, api) => ({
  jobs: { orphans: [], running: {} },

  jobEventReceived: (event) => {
    set((s) => ({ jobs: { ...s.jobs, running: runningAfter(s.jobs.running, event) } }));
    const slot = slotOf(get(), event.jobId);
    if (slot) {
      setJob(set, slot, (job) => withDrives(applyJobEvent(job, event), get()));
      return;
    }
    set((s) => ({ jobs: { ...s.jobs, orphans: [...s.jobs.orphans, event].slice(-MAX_ORPHAN_EVENTS) } }));
  },

  jobStarted: (slot, jobId) => {
    const waiting = get().jobs.orphans.filter((e) => e.jobId === jobId);
    set((s) => ({ jobs: { ...s.jobs, orphans: s.jobs.orphans.filter((e) => e.jobId !== jobId) } }));
    setJob(set, slot, (job) => withDrives(waiting.reduce(applyJobEvent, { ...job, jobId, status: job.status === 'starting' ? 'running' : job.status }), get()));
    // Cancel pressed before the service answered: pass it on now that there is an id.
    if (get()[slot].job.cancelling && get()[slot].job.status !== 'finished') void api.cancelJob({ jobId });
  },

  jobDrivesListed: () => {
    for (const slot of SLOTS) if (get()[slot].job.status !== 'idle') setJob(set, slot, (job) => withDrives(job, get()));
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

  jobSnapshotsRequested: async () => {
    const result = await api.jobSnapshots({});
    if (result.ok) get().jobSnapshotsReceived(result.value);
  },

  jobSnapshotsReceived: (events) => {
    const byJob = new Map<string, JobEvent[]>();
    for (const e of events) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e]);
    for (const [jobId, list] of byJob) {
      const started = list.find((e) => e.type === 'job-started');
      const ended = list.some((e) => e.type === 'job-finished');
      // A job that ended before this window opened is history, not something to show.
      if (!started || started.type !== 'job-started' || ended) continue;
      set((s) => ({ jobs: { ...s.jobs, running: list.reduce(runningAfter, s.jobs.running) } }));
      const slot = slotForKind(started.kind);
      if (slot === null || slotOf(get(), jobId) !== null || get()[slot].job.status !== 'idle') continue;
      setJob(set, slot, () => withDrives(list.reduce(applyJobEvent, { ...IDLE_JOB, jobId, status: 'running' }), get()));
    }
  },
});

/**
 * The job's drives as listed now, captured once (at its start, or when the
 * list first names them): the result names the model and size even after
 * the drive was unplugged.
 */
export function withDrives(view: JobView, s: Pick<AppState, 'drives'>): JobView {
  if (view.drives.length > 0 || view.targets.length === 0) return view;
  const paths = [view.source, ...view.targets.map((t) => t.device)];
  const drives = s.drives.list.filter((d) => paths.includes(d.device));
  return drives.length > 0 ? { ...view, drives } : view;
}
