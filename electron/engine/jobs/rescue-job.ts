import * as fs from 'fs';
import * as path from 'path';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { JobFinishedEvent, JobPhase, ProgressEvent, TargetProgress } from '../../../shared/job-events';
import { formatBytes } from '../../../shared/units';
import { ImprintError, toErrorInfo } from '../errors';
import { spawnWorker } from '../worker-host';
import { JobReporter, type EventSink } from './job-reporter';
import type { MapBlock, MapPhase } from '../formats/rescue-map';
import { RESCUE_WORKER, type FromRescueWorker, type RescueCounters, type RescueWorkerData } from '../workers/rescue-protocol';
import { prepareRescue, type PreparedRescue } from './rescue-plan';

/**
 * The rescue job: checks its inputs, runs the rescue worker, and reports it as
 * JobEvents of kind 'rescue'. The result says how much was rescued, how much
 * is lost and where; the output and the mapfile stay either way.
 */

export interface RescueOptions {
  /** ddrescue mapfile; default `OUTPUT.map`. The same file resumes an interrupted rescue. */
  mapfile?: string;
  /** Passes over the bad sectors after scraping (ddrescue's --retry-passes). Default 1. */
  retries?: number;
  /** Cap on bytes read per second, to spare a dying drive (ddrescue's --max-read-rate). 0 or absent: none. */
  maxReadRate?: number;
  signal?: AbortSignal;
  onEvent?: EventSink;
  /** Recorded in the mapfile's heading. */
  commandLine?: string;
  /** Record every read made (tests use it to prove a resume reads nothing finished). */
  traceReads?: boolean;
}

export interface RescueSummary {
  ok: boolean;
  cancelled: boolean;
  source: string;
  output: string;
  mapfile: string;
  size: number;
  rescuedBytes: number;
  /** Bytes not rescued: bad sectors, plus areas not yet tried when the rescue was cut short. */
  lostBytes: number;
  /** Areas marked bad-sector, in order (at most BAD_AREAS_LISTED of them; `badAreaCount` has them all). */
  badAreas: { offset: number; length: number }[];
  badAreaCount: number;
  /** Bytes the rescue had not finished examining (non-tried, non-trimmed, non-scraped) when it stopped. */
  pendingBytes: number;
  reads: number;
  readErrors: number;
  error?: ErrorInfo;
  readTrace?: [number, number, number, number][];
}

const BAD_AREAS_LISTED = 1000;
const PHASE_OF: Record<MapPhase, JobPhase> = { '?': 'copying', '*': 'trimming', '/': 'scraping', '-': 'retrying', '+': 'done', F: 'copying', G: 'copying' };

/**
 * Rescues `source` (a failing drive) into the file `output`, ddrescue's way.
 * Refusals (bad arguments, an output that would be overwritten...) throw an
 * ImprintError before anything is read; everything after is in the result.
 */
export async function rescueToFile(source: string, output: string, opts: RescueOptions = {}): Promise<RescueSummary> {
  return (await runRescue(source, output, opts)).summary;
}

/** As rescueToFile, also returning the job-finished event that was emitted. */
export async function runRescue(source: string, output: string, opts: RescueOptions = {}): Promise<{ finished: JobFinishedEvent; summary: RescueSummary }> {
  const plan = prepareRescue(source, output, opts.mapfile);
  const reporter = new JobReporter(opts.onEvent ?? (() => {}), 'rescue');
  reporter.started(source, [output], plan.size);
  if (plan.resumedFrom) reporter.warning(`Resuming from ${plan.mapfile}: ${formatBytes(plan.resumedFrom.rescued)} already rescued will not be read again.`);

  let latest: RescueCounters = {
    phase: plan.currentStatus,
    pass: plan.currentPass,
    position: plan.currentPos,
    totals: totalsOf(plan.blocks),
    reads: 0,
    readErrors: 0,
    bytesRequested: 0,
  };
  const progress: TargetProgress = { device: output, status: 'writing', bytesWritten: latest.totals['+'], bytesVerified: 0 };
  const read = (): { done: number; total: number; targets: TargetProgress[]; extra: Partial<ProgressEvent> } => {
    const t = latest.totals;
    progress.bytesWritten = t['+'];
    return {
      // Settled bytes: known good or known bad. Scraping and trimming still move it; retrying does not.
      done: plan.size - t['?'] - t['*'] - t['/'],
      total: plan.size,
      targets: [progress],
      extra: {
        rescue: {
          rescuedBytes: t['+'],
          nonTriedBytes: t['?'],
          nonTrimmedBytes: t['*'],
          nonScrapedBytes: t['/'],
          badSectorBytes: t['-'],
          readErrors: latest.readErrors,
          pass: latest.pass,
          position: latest.position,
        },
      },
    };
  };
  let phase: JobPhase | null = null;
  const onCounters = (c: RescueCounters): void => {
    latest = c;
    const next = PHASE_OF[c.phase];
    if (next !== phase && next !== 'done') {
      phase = next;
      reporter.phaseStarted(next, read);
    }
  };

  const done = await runWorker(plan, opts, onCounters);
  onCounters(done.counters);
  reporter.flush(read);
  const summary = summarize(plan, done);
  progress.status = summary.ok ? 'written' : summary.cancelled ? 'cancelled' : 'failed';
  if (summary.error) progress.error = summary.error;
  const finished: JobFinishedEvent = {
    type: 'job-finished',
    jobId: reporter.jobId,
    ok: summary.ok,
    targets: [progress],
    bytes: summary.rescuedBytes,
    ...(summary.error ? { error: summary.error } : {}),
    details: {
      rescuedBytes: summary.rescuedBytes,
      lostBytes: summary.lostBytes,
      pendingBytes: summary.pendingBytes,
      badAreas: summary.badAreas,
      badAreaCount: summary.badAreaCount,
      mapfile: summary.mapfile,
      output: summary.output,
      readErrors: summary.readErrors,
      cancelled: summary.cancelled,
    },
  };
  reporter.emit(finished);
  return { finished, summary };
}

type Done = Extract<FromRescueWorker, { type: 'done' }>;

function runWorker(plan: PreparedRescue, opts: RescueOptions, onCounters: (c: RescueCounters) => void): Promise<Done> {
  const workerData: RescueWorkerData = {
    source: plan.source,
    output: plan.output,
    mapfile: plan.mapfile,
    size: plan.size,
    blocks: plan.blocks,
    currentPos: plan.currentPos,
    currentStatus: plan.currentStatus,
    currentPass: plan.currentPass,
    sectorSize: plan.sectorSize,
    retries: opts.retries ?? 1,
    maxReadRate: opts.maxReadRate ?? 0,
    commandLine: opts.commandLine ?? `imprint rescue ${plan.source} ${plan.output} --map ${plan.mapfile}`,
    startTime: Date.now(),
    version: imprintVersion(),
    traceReads: opts.traceReads === true,
  };
  // On cancel the host raises the worker's flag and notifies it, which also wakes it from a --max-read-rate sleep.
  const worker = spawnWorker(RESCUE_WORKER, workerData, { signal: opts.signal });
  return new Promise<Done>((resolve) => {
    let settled = false;
    const finish = (d: Done): void => {
      if (settled) return;
      settled = true;
      resolve(d);
    };
    worker.onMessage((msg) => {
      if (msg.type === 'progress') onCounters(msg.counters);
      else finish(msg);
    });
    const crashed = (err: Error): void =>
      finish({
        type: 'done',
        counters: { phase: plan.currentStatus, pass: 1, position: 0, totals: totalsOf(plan.blocks), reads: 0, readErrors: 0, bytesRequested: 0 },
        // Unknown how far it got: the map last saved on disk says (it is saved every few seconds).
        blocks: plan.blocks,
        cancelled: false,
        error: toErrorInfo(new ImprintError('E_INTERNAL', `The rescue thread stopped unexpectedly (${err.message}); the mapfile ${plan.mapfile} holds the state last saved.`)),
      });
    worker.onError(crashed);
    worker.onExit((code) => crashed(new Error(`exit code ${code}`)));
  });
}

function totalsOf(blocks: MapBlock[]): Record<MapBlock['status'], number> {
  const t = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 };
  for (const b of blocks) t[b.status] += b.size;
  return t;
}

function summarize(plan: PreparedRescue, done: Done): RescueSummary {
  const t = totalsOf(done.blocks);
  const bad = done.blocks.filter((b) => b.status === '-');
  const pending = t['?'] + t['*'] + t['/'];
  const lost = plan.size - t['+'];
  let error = done.error;
  if (!error && done.cancelled) {
    error = { code: 'E_CANCELLED', message: `The rescue was interrupted with ${formatBytes(pending)} not yet examined. Run the same command again to resume from ${plan.mapfile}.` };
  } else if (!error && lost > 0) {
    const first = bad[0]?.pos ?? 0;
    error = {
      code: 'E_BAD_SECTOR',
      message: `${formatBytes(lost)} (${lost} bytes) of ${plan.source} could not be read, in ${bad.length} bad area${bad.length === 1 ? '' : 's'} (the first at byte offset ${first}). The output holds zeros there; ${plan.mapfile} lists them.`,
      offset: first,
    };
  }
  return {
    ok: !error && lost === 0,
    cancelled: done.cancelled,
    source: plan.source,
    output: plan.output,
    mapfile: plan.mapfile,
    size: plan.size,
    rescuedBytes: t['+'],
    lostBytes: lost,
    badAreas: bad.slice(0, BAD_AREAS_LISTED).map((b) => ({ offset: b.pos, length: b.size })),
    badAreaCount: bad.length,
    pendingBytes: pending,
    reads: done.counters.reads,
    readErrors: done.counters.readErrors,
    ...(error ? { error } : {}),
    ...(done.readTrace ? { readTrace: done.readTrace } : {}),
  };
}

/** Imprint's version for the mapfile heading (package.json four folders above out/electron/engine/rescue). */
function imprintVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
