import type { ErrorInfo } from '../../../shared/error-codes';
import type { SourceInfo } from '../formats/image-source';
import { TargetVerifier } from './target-verifier';

/** Chunks handed to the verifier while writing and not yet read back: enough to keep its reads in flight. */
const BACKLOG = 4;

export interface EarlyReadbackOptions {
  info: SourceInfo;
  device: string;
  chunkSize: number;
  stallTimeoutMs: number;
  signal?: AbortSignal;
  /** The image's checksum of a chunk, once the hasher has taken it. */
  crcOf(chunk: number): number | undefined;
  /** Whether a chunk may be read back now (the target is still being written, and the pace allows it). */
  mayOffer(): boolean;
  onProgress(verifiedBytes: number): void;
  /** A chunk did not read back as written (or the drive failed while reading). */
  onFailed(error: ErrorInfo): void;
}

/**
 * One block-device target's read-back while the image is still being written
 * (write-pipeline-contract.ts's VerifyWhileWriting): which chunks are wholly on the
 * drive, which of those its verifier has been given, and the verifier itself,
 * which goes on to the final pass after the write (verify-targets.ts).
 */
export class EarlyReadback {
  readonly verifier: TargetVerifier;
  /** Chunks handed to the verifier while writing. */
  readonly checked = new Set<number>();
  /** Chunks wholly on the target (never chunk 0, which holds the head), in order; `next` is the first not yet handed over. */
  private readonly landed: number[] = [];
  private next = 0;

  constructor(private readonly opts: EarlyReadbackOptions) {
    this.verifier = new TargetVerifier({
      info: opts.info,
      device: opts.device,
      isBlockDevice: true,
      chunkSize: opts.chunkSize,
      stallTimeoutMs: opts.stallTimeoutMs,
      signal: opts.signal,
      onProgress: (bytes) => {
        opts.onProgress(bytes);
        this.offer();
      },
    });
    void this.verifier.outcome.then((outcome) => {
      if (outcome.status === 'failed') opts.onFailed(outcome.error);
    });
  }

  /** The writer reports byte ranges now on the drive; the whole chunks inside them become checkable. */
  landedRanges(ranges: Array<[number, number]>): void {
    const size = this.opts.chunkSize;
    for (const [offset, length] of ranges) {
      for (let chunk = Math.max(1, Math.ceil(offset / size)); (chunk + 1) * size <= offset + length; chunk++) this.landed.push(chunk);
    }
    this.offer();
  }

  /** Hands the verifier the chunks that are on the target and whose checksums are known, while the pace allows. */
  offer(): void {
    while (this.next < this.landed.length && this.verifier.backlog < BACKLOG && this.opts.mayOffer()) {
      const chunk = this.landed[this.next] as number;
      const crc = this.opts.crcOf(chunk);
      if (crc === undefined) return;
      this.next++;
      this.checked.add(chunk);
      this.verifier.check({ chunk, length: this.opts.chunkSize, crc });
    }
  }
}
