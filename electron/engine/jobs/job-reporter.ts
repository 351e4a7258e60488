import { randomUUID } from 'crypto';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { JobEvent, JobKind, JobPhase, ProgressEvent, TargetProgress } from '../../../shared/job-events';
import { ProgressMeter } from './progress-meter';

export type EventSink = (event: JobEvent) => void;

/**
 * Turns a running job's counters into events: samples about ten times a
 * second and sends a progress event only when something changed (Raspberry
 * Pi Imager's approach). Workers update counters; nobody blocks on the UI.
 */
export class JobReporter {
  readonly jobId: string;
  private phase: JobPhase = 'preparing';
  private readonly meter = new ProgressMeter();
  private timer: NodeJS.Timeout | null = null;
  private last = '';

  constructor(
    private readonly sink: EventSink,
    private readonly kind: JobKind,
    /** A caller that must name the job before it starts (the app's service returns it at once) passes the id. */
    jobId: string = randomUUID(),
  ) {
    this.jobId = jobId;
  }

  started(source: string, targets: string[], totalBytes: number | null): void {
    this.sink({ type: 'job-started', jobId: this.jobId, kind: this.kind, source, targets, totalBytes });
  }

  warning(message: string): void {
    this.sink({ type: 'warning', jobId: this.jobId, message });
  }

  targetFailed(device: string, error: ErrorInfo): void {
    this.sink({ type: 'target-failed', jobId: this.jobId, device, error });
  }

  /**
   * Enters a phase and samples `read()` every 100 ms until the next phase.
   * `read` returns bytes done and total for this phase.
   */
  phaseStarted(phase: JobPhase, read: () => { done: number; total: number | null; targets: TargetProgress[]; extra?: Partial<ProgressEvent> }): void {
    this.stopSampling();
    this.phase = phase;
    this.meter.reset();
    const tick = (): void => {
      const { done, total, targets, extra } = read();
      this.meter.sample(done);
      const event: ProgressEvent = {
        type: 'progress',
        jobId: this.jobId,
        phase: this.phase,
        bytesDone: done,
        totalBytes: total,
        bytesPerSecond: Math.round(this.meter.rate()),
        etaSeconds: this.meter.eta(done, total),
        targets: targets.map((t) => ({ ...t })),
        ...extra,
      };
      const key = JSON.stringify([event.phase, event.bytesDone, event.totalBytes, event.targets.map((t) => [t.status, t.bytesWritten, t.bytesVerified])]);
      if (key !== this.last) {
        this.last = key;
        this.sink(event);
      }
    };
    tick();
    this.timer = setInterval(tick, 100);
    this.timer.unref();
  }

  stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One final progress sample, so the last event shows where things stopped. */
  flush(read: () => { done: number; total: number | null; targets: TargetProgress[]; extra?: Partial<ProgressEvent> }): void {
    const { done, total, targets, extra } = read();
    this.sink({ type: 'progress', jobId: this.jobId, phase: this.phase, bytesDone: done, totalBytes: total, bytesPerSecond: Math.round(this.meter.rate()), etaSeconds: null, targets: targets.map((t) => ({ ...t })), ...extra });
    this.stopSampling();
  }

  emit(event: JobEvent): void {
    this.sink(event);
  }
}
