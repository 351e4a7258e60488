import type { HashAlgorithm, TargetProgress } from '../../../shared/job-events';
import type { ImprintError } from '../errors';
import type { ZeroOutMode } from '../io/zero-runs';
import type { TypedWorker } from '../worker-host';
import type { FromWriter, ToWriter } from '../workers/messages';
import type { EarlyReadback } from './early-readback';
import type { TargetPlan } from './target-plan';

/**
 * What a WritePipeline (write-pipeline.ts) is asked and what it answers:
 * the options jobs pass, the state it keeps per target, and its result. A
 * file of its own so that jobs and the other pipelines that need only these
 * read them without the pipeline's mechanics.
 */

/**
 * Reading chunks back while the rest of the image is written. 'when-idle':
 * only while the image's decoder is the slow part (the ring has room), so
 * the read-back uses time the drive would spend waiting for data and never
 * slows a write the drive itself limits. 'always': whatever the pace (tests,
 * to exercise it on any image). 'off': everything is read back after the
 * write.
 */
export type VerifyWhileWriting = 'when-idle' | 'always' | 'off';
/**
 * How long a target may accept nothing while it has work before the job calls
 * it hung. Owner: the pipeline's watchdog. 30 s: a healthy drive takes well
 * under a second per 4 MiB chunk, and a slow USB 2 stick flushing its cache
 * a few seconds; callers (tests, the CLI's IMPRINT_STALL_TIMEOUT_MS) may set it.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface PipelineOptions {
  contentHashes: HashAlgorithm[];
  fileHash: boolean;
  limit?: number | null;
  signal?: AbortSignal;
  /** Decides, once the whole image has been read, whether to complete the write (published checksum). */
  beforeFinish?: (end: SourceEnd) => ImprintError | null;
  /** No progress on a target with work queued for this long means the drive stopped responding. */
  stallTimeoutMs?: number;
  /** Set when the job verifies: which chunks may be read back before writing ends. */
  verifyWhileWriting?: VerifyWhileWriting;
  /** How runs of zeros reach block devices (io/zero-runs.ts); by default the drive zeroes them. */
  zeroOut?: ZeroOutMode;
}

export interface SourceEnd {
  bytes: number;
  contentDigests: Partial<Record<HashAlgorithm, string>>;
  fileSha256: string | null;
}

export interface TargetRun {
  plan: TargetPlan;
  progress: TargetProgress;
  worker: TypedWorker<ToWriter, FromWriter> | null;
  outstanding: Set<number>;
  lastProgressAt: number;
  /** The writer closed its descriptor (it reported an error, or finished). */
  closed: boolean;
  /** 'finish' was sent: the head and the final flush are under way. */
  finishing: boolean;
  /** Reads chunks back while writing goes on (block devices, when the job verifies and the image's size is known). */
  readback: EarlyReadback | null;
}

export interface PipelineResult {
  end: SourceEnd | null;
  crcs: number[];
  error: ImprintError | null;
  cancelled: boolean;
}
