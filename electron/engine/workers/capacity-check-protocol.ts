import type { ErrorInfo } from '../../../shared/error-codes';
import type { MarkerResult } from '../drives/capacity-markers';
import { workerKind } from '../worker-host';

/** Messages between the capacity check (capacity-check.ts) and its worker thread. */

export interface CapacityWorkerData {
  target: string;
  /** Page-aligned offsets of the markers, ascending. */
  offsets: number[];
  /** Identifies this run's markers (hex): an earlier run's markers never count. */
  nonce: string;
}

export type FromCapacityWorker =
  | { type: 'progress'; phase: 'writing' | 'verifying'; done: number }
  | { type: 'done'; results: MarkerResult[]; cancelled: boolean; restored: number; notRestored: number }
  | { type: 'error'; error: ErrorInfo };

/** Stops at the host's cancel flag (the worker still puts back the data it replaced). */
export const CAPACITY_CHECK_WORKER = workerKind<never, FromCapacityWorker, CapacityWorkerData>('capacity-check-worker');
