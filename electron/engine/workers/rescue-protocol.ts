import type { ErrorInfo } from '../../../shared/error-codes';
import type { BlockStatus, MapBlock, MapPhase } from '../formats/rescue-map';
import { workerKind } from '../worker-host';

/**
 * Messages between the rescue job and its worker thread. The worker runs a
 * blocking loop of O_DIRECT reads, so it never sees incoming messages:
 * cancellation is the host's shared flag (worker-host.ts: raised and notified
 * with Atomics when the job's signal fires), which it checks between reads.
 */
export interface RescueWorkerData {
  source: string;
  output: string;
  mapfile: string;
  /** The starting map (from the mapfile, or all non-tried). */
  size: number;
  blocks: MapBlock[];
  currentPos: number;
  currentStatus: MapPhase;
  currentPass: number;
  /** Logical sector size of the source: the unit of trimming, scraping and retrying. */
  sectorSize: number;
  retries: number;
  /** Reads per second cap in bytes (ddrescue's --max-read-rate), 0 for none. */
  maxReadRate: number;
  /** Heading of the mapfile we write. */
  commandLine: string;
  startTime: number;
  version: string;
  /** Record every read's [pos, length] and return it in `done` (tests prove what a resume reads). */
  traceReads: boolean;
}

/** Counters of a rescue in progress, as the worker last posted them. */
export interface RescueCounters {
  phase: MapPhase;
  pass: number;
  /** Position being read. */
  position: number;
  totals: Record<BlockStatus, number>;
  /** Read calls made to the source and how many of them failed. */
  reads: number;
  readErrors: number;
  /** Bytes asked of the source by those reads (good or not). */
  bytesRequested: number;
}

export type FromRescueWorker =
  | { type: 'progress'; counters: RescueCounters }
  | {
      type: 'done';
      counters: RescueCounters;
      /** The final map's blocks. */
      blocks: MapBlock[];
      cancelled: boolean;
      error?: ErrorInfo;
      /** Present when `traceReads` was asked. */
      readTrace?: [number, number, number, number][];
    };

export const RESCUE_WORKER = workerKind<never, FromRescueWorker, RescueWorkerData>('rescue-worker');
