/**
 * What a decoder program's reader (program-reader.ts) and the thread that
 * feeds the program a file still downloading (workers/growing-feed-worker.ts)
 * share.
 */
import type { ErrorInfo } from '../../../shared/error-codes';
import { workerKind } from '../worker-host';

export interface GrowingFeedData {
  /** The downloading file. */
  path: string;
  /** Its growing-file counters (io/growing-file.ts). */
  growing: SharedArrayBuffer;
  /**
   * The program's stdin, a named pipe the thread opens for writing itself
   * (a descriptor opened by one thread and closed by another upsets Node's
   * per-thread descriptor tracking), writes blocking, and closes when done.
   */
  pipe: string;
  /** One Int32 the thread sets to 1 (and notifies) once the pipe is open: until then the opener keeps a write end open, so the program never sees an early end. */
  opened: SharedArrayBuffer;
  /** One BigInt64: bytes written to the pipe so far (the program's input progress). */
  fed: SharedArrayBuffer;
}

/** Once, just before the pipe is closed: the whole file was fed, or why not. */
export type GrowingFeedReply = { type: 'done'; bytes: number } | { type: 'error'; error: ErrorInfo };

export const GROWING_FEED_WORKER = workerKind<never, GrowingFeedReply, GrowingFeedData>('growing-feed-worker');
