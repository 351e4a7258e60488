import type { ErrorInfo } from '../../../shared/error-codes';
import { formatBytes } from '../../../shared/units';
import { ImprintError, fromErrorInfo } from '../errors';
import type { SourceInfo } from '../formats/image-source';
import { VERIFY_WORKER, type ChunkCheck, type FromVerify, type ToVerify } from '../workers/messages';
import { examineMismatch } from './locate-mismatch';
import { spawnWorker, type TypedWorker } from '../worker-host';

/** What the worker ends with (every message but per-chunk progress). */
type VerifyEnd = Exclude<FromVerify, { type: 'checked' }>;

/** How one target's read-back ended. */
export type VerifyOutcome = { status: 'verified' } | { status: 'failed' | 'cancelled'; error: ErrorInfo };

export interface TargetVerifierOptions {
  info: SourceInfo;
  device: string;
  isBlockDevice: boolean;
  chunkSize: number;
  stallTimeoutMs: number;
  signal?: AbortSignal;
  /** Bytes verified so far, after each chunk. */
  onProgress?: (verifiedBytes: number) => void;
}

/**
 * The job's side of one target's verify worker. Chunks can be handed over
 * while the flash is still writing (`check`, for chunks already on the
 * drive) and at the end (`final`); `outcome` settles once, with what the
 * read-back found: a mismatch is located to its first differing byte, and
 * told apart from a counterfeit drive's wrap.
 */
export class TargetVerifier {
  readonly outcome: Promise<VerifyOutcome>;
  verifiedBytes = 0;
  private readonly worker: TypedWorker<ToVerify, FromVerify>;
  private sent = 0;
  private answered = 0;
  private finalSent = false;
  /** Known at the final pass, or up front when chunks are checked early (the image's size). */
  private totalBytes: number | null;
  private settled = false;
  private stopped: Promise<void> | null = null;
  private lastHeardAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;

  constructor(private readonly opts: TargetVerifierOptions) {
    this.totalBytes = opts.info.size;
    // On the job's cancel the worker closes the device itself; it answers within one chunk read.
    this.worker = spawnWorker(VERIFY_WORKER, { target: opts.device, isBlockDevice: opts.isBlockDevice, chunkSize: opts.chunkSize }, { signal: opts.signal });
    this.outcome = new Promise<VerifyEnd>((resolve) => {
      this.worker.onCrash((err) => resolve({ type: 'error', error: { code: 'E_INTERNAL', message: `Verification of ${opts.device} crashed: ${err.message}` } }));
      this.worker.onMessage((msg) => {
        this.lastHeardAt = Date.now();
        if (msg.type === 'checked') {
          this.answered++;
          this.verifiedBytes = msg.bytes;
          opts.onProgress?.(msg.bytes);
        } else resolve(msg);
      });
      this.watchdog = setInterval(() => this.checkStall(resolve), Math.min(1000, opts.stallTimeoutMs / 2));
      this.watchdog.unref();
    }).then((msg) => this.settle(msg));
  }

  /** Chunks handed over and not yet read back. */
  get backlog(): number {
    return this.sent - this.answered;
  }

  /** Reads back a chunk that is on the drive now, while writing goes on. */
  check(check: ChunkCheck): void {
    if (this.settled || this.finalSent) return;
    if (this.backlog === 0) this.lastHeardAt = Date.now();
    this.sent++;
    this.worker.post({ type: 'check', check });
  }

  /** Writing is over: the drive is reopened, and these are the last chunks. */
  final(totalBytes: number, checks: ChunkCheck[]): Promise<VerifyOutcome> {
    if (!this.finalSent && !this.settled) {
      this.finalSent = true;
      this.totalBytes = totalBytes;
      this.lastHeardAt = Date.now();
      this.worker.post({ type: 'final', totalBytes, checks });
    }
    return this.outcome;
  }

  /** Ends the worker, whatever it was doing (again: a no-op). */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.watchdog) clearInterval(this.watchdog);
      await this.worker.terminate();
    })();
    return this.stopped;
  }

  /** A read that never returns (a hung drive) leaves the worker silent: give up on it after the limit. */
  private checkStall(resolve: (msg: VerifyEnd) => void): void {
    const waiting = this.backlog > 0 || this.finalSent;
    const limit = this.opts.stallTimeoutMs;
    if (!waiting || Date.now() - this.lastHeardAt <= limit) return;
    const secs = limit >= 1000 ? `${Math.round(limit / 1000)} s` : `${limit} ms`;
    resolve({ type: 'error', error: { code: 'E_DEVICE_HUNG', message: `${this.opts.device}: the drive stopped responding. Reading it back gave nothing for ${secs}. Unplug it; it may be failing.`, offset: this.verifiedBytes } });
  }

  private async settle(msg: VerifyEnd): Promise<VerifyOutcome> {
    this.settled = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const { device, info, chunkSize } = this.opts;
    switch (msg.type) {
      case 'ok':
        return { status: 'verified' };
      case 'cancelled':
        return { status: 'cancelled', error: new ImprintError('E_CANCELLED', `Verification of ${device} was cancelled; the data was written but not checked.`).toInfo() };
      case 'error':
        return { status: 'failed', error: fromErrorInfo(msg.error).toInfo() };
      case 'mismatch': {
        const { offset, wrapsAt } = await examineMismatch(info, device, msg.chunk, chunkSize, this.totalBytes ?? (msg.chunk + 1) * chunkSize);
        const error =
          wrapsAt !== null
            ? new ImprintError(
                'E_COUNTERFEIT',
                `${device} is counterfeit: the drive holds less than it claims; data wraps at about ${formatBytes(wrapsAt)} (${wrapsAt} bytes): what was written there landed back at the start, over earlier data (first differing byte at offset ${offset}). Use \`imprint check\` on a drive before trusting it.`,
                { offset: wrapsAt },
              )
            : new ImprintError('E_VERIFY_MISMATCH', `${device} does not hold what was written: the first differing byte is at offset ${offset}. The drive may be failing or counterfeit.`, { offset });
        return { status: 'failed', error: error.toInfo() };
      }
    }
  }
}
