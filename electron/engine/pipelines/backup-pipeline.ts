import * as path from 'path';
import type { BackupCompression } from '../../../shared/backup-metadata';
import { ImprintError, fromErrorInfo } from '../errors';
import { allocAlignedShared } from '../io/aligned-buffer';
import type { ByteRange } from '../disks/filesystem-driver';
import type { SourceInfo } from '../formats/image-source';
import type { FromSource, RingSpec, ToSource } from '../workers/messages';
import { spawnWorker, type TypedWorker, type WorkerKind } from '../worker-host';
import type { SourceEnd } from './write-pipeline-contract';
import { CHUNK_SIZE } from './chunk-size';
import { SEEKABLE_FRAME_SIZE } from '../formats/zstd-seekable-writer';
import { BACKUP_CHECK_WORKER, COMPRESS_WRITER_WORKER, DRIVE_READER_WORKER, type FromCheck, type FromCompressWriter, type ToCheck, type ToCompressWriter } from '../workers/backup-messages';

const SLOTS = 8;
/** How long a stopping writer may take to close its file before its thread is ended anyway. */
const STOP_GRACE_MS = 30_000;
/**
 * How long a thread that has said its last word may take to end by itself
 * (milliseconds, measured under load: up to 0.13 s) before it is terminated:
 * the writer and the checker end themselves, because terminating a thread
 * with lzma-native inside can abort the process (compress-writer-worker.ts).
 */
const EXIT_WAIT_MS = 5_000;

export interface BackupPipelineOptions {
  output: string;
  compression: BackupCompression;
  level: number;
  threads: number;
  signal?: AbortSignal;
  /** Builds the bytes appended after the compressed data (embedded metadata) once the drive's digest and chunk CRCs are known. */
  trailer: (end: SourceEnd, driveCrcs: readonly number[]) => Uint8Array | null;
  /** A smart backup's ranges (4 KiB aligned): only these are read, the rest is stored as zeros. */
  keep?: ByteRange[];
  /** No progress on either side for this long means a drive stopped responding. */
  stallTimeoutMs?: number;
  /** Called when the file is complete on disk; what remains is checking its last part. */
  onOutputComplete?: () => void;
}

export interface BackupPipelineResult {
  end: SourceEnd | null;
  outputBytes: number;
  /** The CRC-32 of each chunk of the drive as it was read (io/chunk-crc.ts). */
  driveCrcs: number[];
  /** What the file read back as: its decompressed size and the CRC-32 of each chunk. */
  check: { contentBytes: number; crcs: number[] } | null;
  error: ImprintError | null;
  cancelled: boolean;
}

/** A backup thread, and when it has closed its files. */
interface Thread<In, Out> {
  worker: TypedWorker<In, Out>;
  post(msg: In): void;
  /** Resolves once the thread has closed its files (or ended). */
  stopped: Promise<void>;
  markStopped(): void;
  /** Resolves once the thread has ended. */
  exited: Promise<void>;
  /** The thread ends by itself after its last message (it has lzma-native loaded: EXIT_WAIT_MS says why). */
  endsItself: boolean;
}

/** Starts one of the backup's threads; all stop when `signal` fires (the pipeline's stop). */
function spawnThread<In, Out, Data>(kind: WorkerKind<In, Out, Data>, data: Data, signal: AbortSignal, endsItself: boolean): Thread<In, Out> {
  const worker = spawnWorker(kind, data, { signal });
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  let markExited!: () => void;
  const exited = new Promise<void>((resolve) => (markExited = resolve));
  worker.onExit(() => {
    markStopped();
    markExited();
  });
  return { worker, post: (msg) => worker.post(msg), stopped, markStopped, exited, endsItself };
}

function within(promise: Promise<void>, ms: number): Promise<unknown> {
  return Promise.race([promise, new Promise((r) => setTimeout(r, ms).unref())]);
}

/**
 * Waits (boundedly) for a thread to close its files and, if it ends itself,
 * to end; then ends it if it has not (the host gives up on one stuck in the
 * kernel on a hung drive).
 */
async function endThread<In, Out>(thread: Thread<In, Out> | null): Promise<void> {
  if (!thread) return;
  await within(thread.stopped, STOP_GRACE_MS);
  if (thread.endsItself) await within(thread.exited, EXIT_WAIT_MS);
  await thread.worker.terminate();
}

/**
 * Reads a drive on the flash engine's source worker (O_DIRECT, SHA-256 on the
 * way) and hands each chunk to the compress-writer thread: reading,
 * compressing and writing all overlap, and the main thread only passes slot
 * numbers. Counters are read by the job's reporter.
 */
export class BackupPipeline {
  /** Drive bytes handed on so far (stored zeros included). */
  sourceBytes = 0;
  /** Bytes really read from the drive so far (a smart backup skips free space). */
  readBytes = 0;
  /** Drive bytes compressed and written so far. */
  writtenBytes = 0;
  /** Size of the backup file so far. */
  outputBytes = 0;
  /** Drive bytes read back from the file so far. */
  checkedBytes = 0;
  private source: Thread<ToSource, FromSource> | null = null;
  private writer: Thread<ToCompressWriter, FromCompressWriter> | null = null;
  private checker: Thread<ToCheck, FromCheck> | null = null;
  private check: BackupPipelineResult['check'] = null;
  private readonly driveCrcs: number[] = [];
  /** zstd: each chunk's CRC-32 as the encoder took it in, in drive order. */
  private readonly encodedCrcs: number[] = [];
  /**
   * zstd: the writer reads the file back itself and compares it byte for byte
   * with what it wrote (io/read-back-output.ts); no checker thread. That the
   * file holds what was compressed, and what was compressed is what was read
   * from the drive (encodedCrcs against driveCrcs), proves the backup; the
   * frames' own checksums and libzstd's fuzzing cover the encoder
   * (backup-check-worker.ts had the argument in full when it did this check).
   */
  private get writerChecks(): boolean {
    return this.opts.compression === 'zstd';
  }
  /**
   * zstd on the frame pool, a chunk per frame: the reader takes each chunk's
   * XXH64, which must equal the checksum libzstd took of the frame's content
   * (DriveReaderData.check); the chunk CRC-32s the metadata records are then
   * the frames' threads', of what they compressed.
   */
  private get xxhCheck(): boolean {
    return this.writerChecks && this.opts.threads > 1 && CHUNK_SIZE <= SEEKABLE_FRAME_SIZE;
  }
  /** xxhCheck: each chunk's XXH64 (low 32 bits) as read; undefined for chunks of zeros. */
  private readonly chunkXxhs: (number | undefined)[] = [];
  private finishSent = false;
  /** Stops every thread at once: the writer and the checker at their cancel flags, the reader by its message. */
  private readonly stop = new AbortController();
  private outstanding = 0;
  private lastActivity = Date.now();
  private end: SourceEnd | null = null;
  private error: ImprintError | null = null;
  private cancelled = false;
  private settle: (() => void) | null = null;

  constructor(
    private readonly info: SourceInfo,
    private readonly opts: BackupPipelineOptions,
  ) {}

  async run(): Promise<BackupPipelineResult> {
    const ring: RingSpec = { memory: allocAlignedShared(SLOTS * CHUNK_SIZE), slots: SLOTS, slotSize: CHUNK_SIZE };
    const done = new Promise<void>((resolve) => (this.settle = resolve));
    const onAbort = (): void => this.cancel();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    let watchdog: NodeJS.Timeout | null = null;
    try {
      if (this.opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled before starting.');
      // The reader starts beside the writer: each thread costs about 0.1 s of CPU to start, and the
      // reader waiting for the writer's 'ready' put one start-up after the other before the first
      // read. Chunks it sends meanwhile wait in the writer's port; a writer that cannot create the
      // file fails the backup, which stops the reader as any failure does. The checker opens the
      // file the writer creates, so it starts once the writer is ready.
      const writerReady = this.startWriter(ring);
      this.startSource(ring);
      if (!(await writerReady)) {
        this.fail(new ImprintError('E_INTERNAL', 'The backup writer ended before it was ready.'));
        return this.result();
      }
      // The reader may have failed (or the user cancelled) while the writer started.
      if (this.error) return this.result();
      if (!this.writerChecks) this.startChecker();
      const limit = this.opts.stallTimeoutMs ?? 60_000;
      watchdog = setInterval(() => this.checkStall(limit), Math.min(1000, limit / 2));
      watchdog.unref();
      await done;
      return this.result();
    } catch (err) {
      if (err instanceof ImprintError) {
        this.error ??= err;
        if (err.code === 'E_CANCELLED') this.cancelled = true;
        return this.result();
      }
      throw err;
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      if (watchdog) clearInterval(watchdog);
      await Promise.all([endThread(this.source), endThread(this.writer), endThread(this.checker)]);
    }
  }

  private result(): BackupPipelineResult {
    return { end: this.end, outputBytes: this.outputBytes, driveCrcs: this.driveCrcs, check: this.check, error: this.error, cancelled: this.cancelled };
  }

  private startWriter(ring: RingSpec): Promise<boolean> {
    const writer = spawnThread(COMPRESS_WRITER_WORKER, {
      output: this.opts.output,
      compression: this.opts.compression,
      level: this.opts.level,
      threads: this.opts.threads,
      ring,
    }, this.stop.signal, true);
    this.writer = writer;
    return new Promise<boolean>((ready) => {
      writer.worker.onError((err) => {
        this.fail(new ImprintError('E_INTERNAL', `The backup writer crashed: ${err.message}`));
        ready(false);
      });
      writer.worker.onExit((code) => {
        // Ending before saying ready or finished, without an error message: a bug or out of memory.
        if (code !== 0 && !this.error && !this.end) this.fail(new ImprintError('E_INTERNAL', `The backup writer stopped with exit code ${code}.`));
        ready(false);
      });
      writer.worker.onMessage((msg) => {
        switch (msg.type) {
          case 'ready':
            ready(true);
            break;
          case 'written':
            this.outstanding--;
            this.writtenBytes += msg.bytes;
            this.outputBytes = msg.outputBytes;
            this.lastActivity = Date.now();
            if (msg.contentCrc !== undefined && !this.takeEncoded(msg.contentCrc, msg.contentXxh)) break;
            if (msg.slot !== null) this.source?.post({ type: 'free', slot: msg.slot });
            // Read back by its bytes: progress counts the drive bytes the file's checked share stands for.
            if (msg.checkedBytes !== undefined) this.checkedBytes = this.outputBytes > 0 ? Math.min(this.writtenBytes, Math.floor((msg.checkedBytes / this.outputBytes) * this.writtenBytes)) : 0;
            this.checker?.post({ type: 'available', bytes: msg.durableBytes });
            this.finishWhenWritten();
            break;
          case 'finished':
            this.outputBytes = msg.outputBytes;
            this.lastActivity = Date.now();
            if (!this.writerChecks) writer.markStopped();
            this.opts.onOutputComplete?.();
            if (this.writerChecks) writer.post({ type: 'check-rest' });
            else this.checker?.post({ type: 'final', bytes: msg.outputBytes });
            break;
          case 'checked':
            // The file holds what was written; what was written holds what the encoder took in, chunk by chunk.
            writer.markStopped();
            this.checkedBytes = this.writtenBytes;
            this.check = { contentBytes: this.writtenBytes, crcs: this.encodedCrcs };
            this.settle?.();
            break;
          case 'abandoned':
            writer.markStopped();
            break;
          case 'error':
            writer.markStopped();
            this.fail(fromErrorInfo(msg.error));
            ready(false);
            break;
        }
      });
    });
  }

  private startChecker(): void {
    const checker = spawnThread(
      BACKUP_CHECK_WORKER,
      { file: this.opts.output, compression: this.opts.compression, chunkSize: CHUNK_SIZE, level: this.opts.level },
      this.stop.signal,
      true,
    );
    this.checker = checker;
    checker.worker.onError((err) => this.fail(new ImprintError('E_INTERNAL', `The backup checker crashed: ${err.message}`)));
    checker.worker.onMessage((msg) => {
      switch (msg.type) {
        case 'progress':
          this.checkedBytes = msg.contentBytes;
          this.lastActivity = Date.now();
          break;
        case 'done':
          checker.markStopped();
          this.checkedBytes = msg.contentBytes;
          this.check = { contentBytes: msg.contentBytes, crcs: msg.crcs };
          this.settle?.();
          break;
        case 'stopped':
          checker.markStopped();
          break;
        case 'error':
          checker.markStopped();
          this.fail(fromErrorInfo(msg.error));
          break;
      }
    });
  }

  private startSource(ring: RingSpec): void {
    const data = { device: this.info.path, size: this.info.size ?? 0, ring, ...(this.opts.keep ? { keep: this.opts.keep } : {}), ...(this.xxhCheck ? { check: 'xxh64' as const } : {}) };
    const source = spawnThread(DRIVE_READER_WORKER, data, this.stop.signal, false);
    this.source = source;
    source.worker.onError((err) => this.fail(new ImprintError('E_INTERNAL', `The drive reader crashed: ${err.message}`)));
    source.worker.onMessage((msg) => {
      switch (msg.type) {
        case 'chunk':
          this.sourceBytes = msg.offset + msg.length;
          if (msg.xxh !== undefined) this.chunkXxhs[msg.offset / CHUNK_SIZE] = msg.xxh;
          else this.driveCrcs[msg.offset / CHUNK_SIZE] = msg.crc ?? 0;
          this.outstanding++;
          this.lastActivity = Date.now();
          this.writer?.post({ type: 'write', slot: msg.slot, offset: msg.offset, length: msg.length });
          break;
        case 'zeros':
          this.sourceBytes = msg.offset + msg.length;
          this.driveCrcs[msg.offset / CHUNK_SIZE] = msg.crc;
          this.outstanding++;
          this.lastActivity = Date.now();
          this.writer?.post({ type: 'zeros', offset: msg.offset, length: msg.length });
          break;
        case 'end':
          source.markStopped();
          this.onEnd(msg);
          break;
        case 'error':
          source.markStopped();
          this.fail(fromErrorInfo(msg.error));
          break;
        case 'input':
          this.readBytes += msg.bytes;
          break;
      }
    });
  }

  /**
   * The next chunk's CRC-32 as compressed (chunks are written in drive
   * order), and with xxhCheck its frame's checksum, which must be the
   * reader's. False when it is not: the backup is failed.
   */
  private takeEncoded(crc: number, xxh: number | undefined): boolean {
    const i = this.encodedCrcs.length;
    this.encodedCrcs.push(crc);
    const read = this.chunkXxhs[i];
    if (read === undefined) return true;
    if (xxh !== read) {
      const offset = i * CHUNK_SIZE;
      this.fail(new ImprintError('E_VERIFY_MISMATCH', `What was compressed differs from what was read from ${this.info.path} at byte ${offset}: the memory between them changed. The backup was stopped (a bug in Imprint, or failing memory).`, { offset }));
      return false;
    }
    this.driveCrcs[i] = crc;
    return true;
  }

  private onEnd(end: SourceEnd): void {
    this.end = end;
    this.finishWhenWritten();
  }

  /** Ends the file once the drive is read (and, with xxhCheck, every chunk written: the metadata lists their CRC-32s). */
  private finishWhenWritten(): void {
    const end = this.end;
    if (!end || this.finishSent || this.error || (this.xxhCheck && this.outstanding > 0)) return;
    this.finishSent = true;
    let trailer: Uint8Array | null;
    try {
      trailer = this.opts.trailer(end, this.driveCrcs);
    } catch (err) {
      this.fail(err instanceof ImprintError ? err : new ImprintError('E_INTERNAL', `The backup's metadata could not be built: ${(err as Error).message}`));
      return;
    }
    this.writer?.post({ type: 'finish', totalBytes: end.bytes, trailer });
  }

  private checkStall(limit: number): void {
    if (this.error || Date.now() - this.lastActivity <= limit) return;
    const side = this.outstanding > 0 || this.end ? `${path.dirname(this.opts.output)} (where the backup is written)` : this.info.path;
    this.fail(new ImprintError('E_DEVICE_HUNG', `${side} stopped responding: nothing moved for ${Math.round(limit / 1000)} s. Check the drive and its connection.`));
  }

  /** Stops every thread; the writer and the checker close the file (the job removes it). */
  private fail(err: ImprintError): void {
    this.error ??= err;
    this.stop.abort();
    this.writer?.post({ type: 'abandon' });
    this.checker?.post({ type: 'stop' });
    this.settle?.();
  }

  cancel(): void {
    if (this.cancelled || this.error) return;
    this.cancelled = true;
    this.fail(new ImprintError('E_CANCELLED', 'Cancelled.'));
  }
}
