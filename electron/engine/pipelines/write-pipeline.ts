import type { ErrorInfo } from '../../../shared/error-codes';
import { ImprintError, fromErrorInfo } from '../errors';
import { allocAlignedShared } from '../io/aligned-buffer';
import type { SourceInfo } from '../formats/image-source';
import { HASHER_WORKER, SOURCE_WORKER, WRITER_WORKER, type FromHasher, type FromSource, type FromWriter, type RingSpec, type ToHasher, type ToSource } from '../workers/messages';
import { spawnWorker, type TypedWorker } from '../worker-host';
import type { TargetPlan } from './target-plan';
import { startStallWatchdog, startTargetReadback } from './write-watch';
import { CHUNK_SIZE } from './chunk-size';
import { DEFAULT_STALL_TIMEOUT_MS, type PipelineOptions, type PipelineResult, type SourceEnd, type TargetRun, type VerifyWhileWriting } from './write-pipeline-contract';

export { CHUNK_SIZE };

/** Bytes at the start of an image written last (partition table and boot code). */
export const HEAD_BYTES = 1 << 20;
const SLOTS = 8;
/** The ring's size: a download feeding the flash (io/feed-ring.ts) is given memory of this size to fill. */
export const RING_BYTES = SLOTS * CHUNK_SIZE;

/**
 * Streams one source into any number of targets at once: one read and one
 * decompression feed them all. A target that fails is dropped and reported;
 * the others go on. With no targets it only reads (hash, or checksums for verify).
 */
export class WritePipeline {
  readonly targets: TargetRun[];
  inputBytes = 0;
  sourceBytes = 0;
  private readonly crcs: number[] = [];
  private readonly refs = new Array<number>(SLOTS).fill(0);
  private source: TypedWorker<ToSource, FromSource> | null = null;
  private hasher: TypedWorker<ToHasher, FromHasher> | null = null;
  /** Stops the source worker: on cancel, on a failure, when no target is left, and at shutdown. */
  private readonly sourceStop = new AbortController();
  /** The source's end, held until the hasher has digested every chunk. */
  private sourceEnd: SourceEnd | null = null;
  /** The source worker said 'closed' (it does so as soon as it has read to the end, too). */
  private sourceClosed = false;
  /** The source was told to read (the targets are open). */
  private sourceStarted = false;
  private end: SourceEnd | null = null;
  private error: ImprintError | null = null;
  private cancelled = false;
  private settle: (() => void) | null = null;
  private stopWatchdog: (() => void) | null = null;
  /** When the source last delivered something or was given room (a freed slot): its clock for the watchdog. */
  private lastSourceAt = Date.now();
  /** Per target: ends the wait for its writer to open it (also when it fails or hangs while opening). */
  private readonly opened = new Map<TargetRun, () => void>();

  constructor(
    private readonly info: SourceInfo,
    plans: TargetPlan[],
    private readonly opts: PipelineOptions,
    private readonly onTargetFailed: (device: string, error: ErrorInfo) => void = () => {},
  ) {
    this.targets = plans.map((plan) => ({
      plan,
      progress: { device: plan.path, status: 'pending', bytesWritten: 0, bytesVerified: 0 },
      worker: null,
      outstanding: new Set(),
      lastProgressAt: Date.now(),
      closed: false,
      finishing: false,
      readback: null,
    }));
  }

  private get earlyVerify(): VerifyWhileWriting {
    // The wrap probe needs the image's extent up front (check/wrap-probe.ts).
    return this.info.size === null ? 'off' : (this.opts.verifyWhileWriting ?? 'off');
  }

  private live(): TargetRun[] {
    return this.targets.filter((t) => t.progress.status === 'writing');
  }

  async run(): Promise<PipelineResult> {
    // A raw image still downloading arrives in memory of its own: that memory is the ring.
    const feed = this.info.feed;
    if (feed && (feed.data.byteLength !== RING_BYTES || feed.chunk !== CHUNK_SIZE)) throw new ImprintError('E_INTERNAL', 'The download feeds a ring of another size.');
    const ring: RingSpec = { memory: feed?.data ?? allocAlignedShared(RING_BYTES), slots: SLOTS, slotSize: CHUNK_SIZE };
    const done = new Promise<void>((resolve) => (this.settle = resolve));
    const onAbort = (): void => this.cancel();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled before starting.');
      // Watched from the start: a drive can hang while its writer opens and wipes it.
      this.startWatchdog();
      // The image's threads start up while the targets open; they read once told to.
      this.startSource(ring);
      await this.startWriters(ring);
      // Cancelled while the writers were opening their targets: nothing was written yet,
      // and the targets must say so rather than stay "writing".
      if (this.cancelled) {
        for (const t of this.live()) t.progress.status = 'cancelled';
        return this.result();
      }
      if (this.targets.length > 0 && this.live().length === 0) {
        this.error ??= new ImprintError('E_WRITE', 'No target could be opened for writing.');
        return this.result();
      }
      // Its clock starts now: opening the targets (wipes, capacity checks) was not its wait.
      this.lastSourceAt = Date.now();
      this.sourceStarted = true;
      this.source?.post({ type: 'start' });
      await done;
      return this.result();
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      this.stopWatchdog?.();
      await this.shutDown();
    }
  }

  /**
   * Lets every worker close its file descriptors before the thread goes: in
   * the long-lived desktop process a leaked descriptor would keep a drive
   * open (and O_EXCL would refuse the next flash). Bounded: a worker stuck on
   * a hung device is abandoned after the wait.
   */
  private async shutDown(): Promise<void> {
    const source = this.source;
    const closing: Promise<unknown>[] = [];
    if (this.hasher) closing.push(this.hasher.terminate());
    if (source && this.sourceClosed) closing.push(source.terminate());
    else if (source) {
      this.sourceStop.abort();
      closing.push(source.waitFor((m) => m.type === 'closed', 2000).then(() => source.terminate()));
    }
    for (const t of this.targets) {
      // A written target's verifier goes on to the final pass (flash-job.ts), which stops it.
      if (t.readback && t.progress.status !== 'written') closing.push(t.readback.verifier.stop());
      const w = t.worker;
      if (!w) continue;
      const open = t.progress.status === 'writing' || t.progress.status === 'cancelled' || (t.progress.status === 'failed' && !t.closed);
      if (open) {
        w.post({ type: 'abandon' });
        closing.push(w.waitFor((m) => m.type === 'abandoned' || m.type === 'error', 2000).then(() => w.terminate()));
      } else closing.push(w.terminate());
    }
    await Promise.all(closing);
  }

  private result(): PipelineResult {
    return { end: this.end, crcs: this.crcs, error: this.error, cancelled: this.cancelled };
  }

  private async startWriters(ring: RingSpec): Promise<void> {
    await Promise.all(
      this.targets.map(
        (t) =>
          new Promise<void>((ready) => {
            this.opened.set(t, ready);
            const worker = spawnWorker(WRITER_WORKER, {
              target: t.plan.path,
              isBlockDevice: t.plan.isBlockDevice,
              ring,
              headBytes: HEAD_BYTES,
              wrapProbeExtent: this.earlyVerify !== 'off' && t.plan.isBlockDevice ? this.info.size : null,
              zeroOut: this.opts.zeroOut ?? 'device',
            });
            t.worker = worker;
            t.lastProgressAt = Date.now();
            worker.onCrash((err) => {
              this.failTarget(t, new ImprintError('E_INTERNAL', `The writer for ${t.plan.path} crashed: ${err.message}`).toInfo());
              ready();
            });
            worker.onMessage((msg) => {
              if (msg.type === 'ready') {
                // A target the watchdog gave up on while it opened stays failed.
                if (t.progress.status === 'pending') {
                  t.progress.status = 'writing';
                  t.lastProgressAt = Date.now();
                  if (this.earlyVerify !== 'off' && t.plan.isBlockDevice) this.startReadback(t);
                }
                ready();
              } else this.onWriter(t, msg);
              if (msg.type === 'error') ready();
            });
          }),
      ),
    );
  }

  private startSource(ring: RingSpec): void {
    const hasher = spawnWorker(HASHER_WORKER, { ring, contentHashes: this.opts.contentHashes });
    this.hasher = hasher;
    hasher.onCrash((err) => this.fail(new ImprintError('E_INTERNAL', `The checksum thread crashed: ${err.message}`)));
    hasher.onMessage((msg) => {
      if (msg.type === 'hashed') {
        this.crcs[msg.offset / CHUNK_SIZE] = msg.crc;
        this.release(msg.slot);
        for (const t of this.targets) t.readback?.offer();
      } else if (this.sourceEnd && !this.error) {
        this.onEnd({ ...this.sourceEnd, contentDigests: msg.contentDigests });
      }
    });
    const source = spawnWorker(SOURCE_WORKER, {
      source: this.info,
      ring,
      fileHash: this.opts.fileHash,
      limit: this.opts.limit ?? null,
    }, { signal: this.sourceStop.signal });
    this.source = source;
    source.onCrash((err) => this.fail(new ImprintError('E_INTERNAL', `The image reader crashed: ${err.message}`)));
    source.onMessage((msg) => {
      switch (msg.type) {
        case 'input':
          this.inputBytes += msg.bytes;
          this.lastSourceAt = Date.now();
          break;
        case 'chunk':
          this.lastSourceAt = Date.now();
          this.onChunk(msg.slot, msg.offset, msg.length);
          break;
        case 'end':
          // Chunks reach the hasher in order: its digests answer after the last one.
          this.sourceEnd = msg;
          hasher.post({ type: 'finish' });
          break;
        case 'error':
          this.fail(fromErrorInfo(msg.error));
          break;
        case 'closed':
          this.sourceClosed = true;
          break;
      }
    });
  }

  private onChunk(slot: number, offset: number, length: number): void {
    this.sourceBytes = offset + length;
    const live = this.live();
    // The hasher holds the slot too, until it has checksummed it.
    this.refs[slot] = live.length + 1;
    this.hasher?.post({ type: 'chunk', slot, offset, length });
    for (const t of live) {
      // An idle target's clock starts with its first queued chunk: waiting for the source is not a hang.
      if (t.outstanding.size === 0) t.lastProgressAt = Date.now();
      t.outstanding.add(slot);
      t.worker?.post({ type: 'write', slot, offset, length });
    }
  }

  private release(slot: number): void {
    this.refs[slot] = (this.refs[slot] ?? 1) - 1;
    if (this.refs[slot] === 0) {
      // The source had no room until now: waiting for it was not its stall.
      if (this.refs.filter((r) => r === 0).length === 1) this.lastSourceAt = Date.now();
      this.source?.post({ type: 'free', slot });
    }
  }

  private onWriter(t: TargetRun, msg: FromWriter): void {
    switch (msg.type) {
      case 'written':
        t.outstanding.delete(msg.slot);
        t.progress.bytesWritten += msg.bytes;
        t.lastProgressAt = Date.now();
        this.release(msg.slot);
        t.readback?.landedRanges(msg.landed);
        break;
      case 'zeroed':
        t.progress.bytesWritten += msg.bytes;
        t.lastProgressAt = Date.now();
        t.readback?.landedRanges(msg.landed);
        break;
      case 'finished':
        t.progress.bytesWritten += msg.bytes;
        t.closed = true;
        t.progress.status = 'written';
        this.maybeSettle();
        break;
      case 'abandoned':
        break;
      case 'error':
        t.closed = true;
        this.failTarget(t, msg.error);
        break;
    }
  }

  private startReadback(t: TargetRun): void {
    t.readback = startTargetReadback({
      info: this.info,
      device: t.plan.path,
      chunkSize: CHUNK_SIZE,
      stallTimeoutMs: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      signal: this.opts.signal,
      crcOf: (chunk) => this.crcs[chunk],
      writing: () => t.progress.status === 'writing',
      mayReadBack: () => this.mayReadBack(),
      onProgress: (bytes) => (t.progress.bytesVerified = bytes),
      fail: (error) => {
        t.worker?.post({ type: 'abandon' });
        this.failTarget(t, error);
      },
    });
  }

  /**
   * Which stage sets the pace now: with half the ring or more free, the
   * drives wait for the image's reader and decoder (which then leaves the
   * drives time to read chunks back); with it full, the reader waits for the drives.
   */
  bottleneck(): 'decompression' | 'drive' {
    return this.refs.filter((r) => r === 0).length >= SLOTS / 2 ? 'decompression' : 'drive';
  }

  private mayReadBack(): boolean {
    return this.earlyVerify === 'always' || this.sourceEnd !== null || this.bottleneck() === 'decompression';
  }

  private failTarget(t: TargetRun, error: ErrorInfo): void {
    if (t.progress.status === 'failed' || t.progress.status === 'cancelled') return;
    this.opened.get(t)?.();
    t.progress.status = 'failed';
    t.progress.error = error;
    for (const slot of t.outstanding) this.release(slot);
    t.outstanding.clear();
    this.onTargetFailed(t.plan.path, error);
    // Every target failed: stop reading. Targets still opening count as alive (one that
    // fails while it opens must not end the job for the others).
    const alive = this.targets.some((x) => x.progress.status === 'writing' || x.progress.status === 'pending' || x.progress.status === 'written');
    if (this.targets.length > 0 && !alive) {
      this.sourceStop.abort();
      this.error ??= fromErrorInfo(error);
      this.settle?.();
      return;
    }
    this.maybeSettle();
  }

  private onEnd(end: SourceEnd): void {
    this.end = end;
    const veto = this.opts.beforeFinish?.(end) ?? null;
    if (veto) {
      this.fail(veto);
      return;
    }
    for (const t of this.live()) {
      t.finishing = true;
      t.lastProgressAt = Date.now();
      t.worker?.post({ type: 'finish', totalBytes: end.bytes });
    }
    this.maybeSettle();
  }

  private maybeSettle(): void {
    if (this.end && this.live().length === 0) this.settle?.();
  }

  /** Source-side failure or veto: abandon every target without writing its head. */
  private fail(err: ImprintError): void {
    this.error ??= err;
    this.sourceStop.abort();
    for (const t of this.live()) {
      t.worker?.post({ type: 'abandon' });
      t.progress.status = 'failed';
      t.progress.error = err.toInfo();
    }
    this.settle?.();
  }

  cancel(): void {
    if (this.cancelled || (this.end && this.live().length === 0)) return;
    this.cancelled = true;
    this.error ??= new ImprintError('E_CANCELLED', 'Cancelled.');
    this.sourceStop.abort();
    for (const t of this.live()) {
      t.worker?.post({ type: 'abandon' });
      t.progress.status = 'cancelled';
    }
    this.settle?.();
  }

  /** The stall watchdog (write-watch.ts) over the source and every target. */
  private startWatchdog(): void {
    this.stopWatchdog = startStallWatchdog({
      info: this.info,
      limit: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      targets: this.targets,
      sourceOwes: () => this.sourceStarted && this.source !== null && !this.sourceEnd && !this.sourceClosed && !this.error && this.refs.some((r) => r === 0),
      lastSourceAt: () => this.lastSourceAt,
      sourceBytes: () => this.sourceBytes,
      failSource: (error) => this.fail(fromErrorInfo(error)),
      failTarget: (t, error) => this.failTarget(t, error),
    });
  }
}
