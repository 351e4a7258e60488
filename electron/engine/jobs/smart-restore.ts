import * as crypto from 'crypto';
import * as fs from 'fs';
import type { BackupMetadata, BackupStorage } from '../../../shared/backup-metadata';
import type { JobFinishedEvent, RestoreJobDetails } from '../../../shared/job-events';
import { ImprintError, classifyWriteError, fromErrorInfo, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { blockDeviceSize } from '../io/block-device';
import { chunkCrc } from '../io/chunk-crc';
import { ReadAhead } from '../io/chunk-reader';
import { unmountAll } from '../drives/unmount';
import { RangeCursor, complementWithin } from '../disks/byte-ranges';
import type { ByteRange } from '../disks/filesystem-driver';
import { openContent, type SourceInfo } from '../formats/image-source';
import { JobReporter, type EventSink } from './job-reporter';
import type { TargetPlan } from '../pipelines/target-plan';
import { wipeRanges } from '../pipelines/wipe-free-space';
import { decodeStoredChunks, type ChunkDecoder, type DecodeOptions } from '../pipelines/stored-chunks';
import { EarlyReadBack, openForReadBack, readBackChunk, type StoredChunkRef } from '../pipelines/stored-readback';
import { closeAll, fail, live, moveGpt, openTarget, settlePending, syncTarget, writeChunk, type Target } from './restore-targets';

/**
 * Restores a smart backup: only the ranges it stored are written, each chunk
 * checked against the CRC-32 the backup recorded before it reaches a drive,
 * then read back from the drive and its CRC-32 checked against that record
 * again (pipelines/stored-readback.ts says why not against the memory it
 * was written from). The rest of the target
 * (free space in the backed-up filesystems) keeps what it held, unless the
 * user asked to wipe it. As with every write, the first chunk (partition
 * table, boot code) is written last, so a restore that stops never leaves a
 * drive that looks valid.
 */

export interface SmartRestoreOptions {
  verify: boolean;
  wipeFreeSpace: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
  details: RestoreJobDetails;
  /** Decodes the stored chunks of a source other than `info`'s file on several threads (a backup folder's generation, encrypted or not). */
  chunks?: ChunkDecoder;
}

/** Chunk buffers in rotation: one being decoded into while the others are written. */
const BUFFERS = 3;

export function recordedCrcs(storage: BackupStorage): Uint32Array {
  const bytes = Buffer.from(storage.chunkCrc32, 'base64');
  const out = new Uint32Array(bytes.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32LE(i * 4);
  return out;
}

/**
 * Waits until each target's chunks written so far are read back and found
 * as recorded (its EarlyReadBack); a target where one is not fails, and its
 * head is then not written.
 */
async function readBackBeforeHead(targets: Target[], reporter: JobReporter): Promise<void> {
  for (const t of live(targets)) {
    if (!t.early) throw new ImprintError('E_INTERNAL', 'A backup folder was restored without checking its chunks (no CRC-32s while decoding, no read-back).');
    await t.early.drain();
    if (t.early.error) fail(t, t.early.error, reporter);
  }
}

/** Chunks read back at once: one O_DIRECT read at a time left the drive idle between replies (io/chunk-reader.ts). */
const VERIFY_AHEAD = 4;

/**
 * Reads a target's stored ranges back and compares each chunk's CRC-32 with
 * the backup's record; chunks already read back while the restore was
 * writing (t.early) are not read again.
 */
async function verifyTarget(t: Target, storage: BackupStorage, crcs: Uint32Array, size: number, signal?: AbortSignal): Promise<void> {
  if (t.early) {
    await t.early.drain();
    await t.early.close();
    if (t.early.error) throw t.early.error;
  }
  const done = t.early?.verified ?? new Set<number>();
  const src = openForReadBack(t.plan.path, t.plan.isBlockDevice);
  const reads = new ReadAhead<void>();
  try {
    const cursor = new RangeCursor(storage.ranges.map(([start, length]) => ({ start, length })));
    const jobs: StoredChunkRef[] = [];
    for (let at = 0, index = 0; at < size; at += storage.chunkSize, index++) {
      const length = Math.min(storage.chunkSize, size - at);
      const parts = cursor.clip(at, at + length);
      if (parts.length > 0 && !done.has(index)) jobs.push({ index, at, length, parts });
    }
    const bufs = Array.from({ length: VERIFY_AHEAD }, () => allocAligned(storage.chunkSize));
    const onBytes = (n: number): void => void (t.progress.bytesVerified += n);
    let started = 0;
    for (let k = 0; k < jobs.length; k++) {
      if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
      // Buffer k % VERIFY_AHEAD is read into again only after chunk k was checked.
      while (reads.pending < VERIFY_AHEAD && started < jobs.length) {
        const job = jobs[started] as StoredChunkRef;
        reads.push(readBackChunk(src, bufs[started % VERIFY_AHEAD] as Buffer, job, crcs[job.index], onBytes));
        started++;
      }
      await reads.shift();
    }
  } finally {
    // A read still in libuv's pool must not find its descriptor closed under it.
    await reads.settle();
    fs.closeSync(src.fd);
  }
}

/** Runs a smart restore of `info` (the backup file) described by `metadata` onto prepared targets. */
export async function runSmartRestore(info: SourceInfo, metadata: BackupMetadata, plans: TargetPlan[], opts: SmartRestoreOptions): Promise<JobFinishedEvent> {
  const storage = metadata.storage as BackupStorage;
  const size = metadata.size;
  const crcs = recordedCrcs(storage);
  const reporter = new JobReporter(opts.onEvent, 'restore', opts.jobId);
  const targets: Target[] = plans.map((plan) => ({ plan, fd: null, pending: [], early: null, unsynced: 0, progress: { device: plan.path, status: 'writing', bytesWritten: 0, bytesVerified: 0 } }));
  const progress = targets.map((t) => t.progress);
  const notes: string[] = [];
  const finish = (ok: boolean, extra: Partial<JobFinishedEvent> = {}): JobFinishedEvent => {
    reporter.stopSampling();
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: progress, bytes: storage.storedBytes, details: { ...opts.details, storedBytes: storage.storedBytes, notes }, ...extra };
    reporter.emit(event);
    return event;
  };
  reporter.started(info.path, plans.map((p) => p.path), storage.storedBytes);
  const ranges = storage.ranges.map(([start, length]) => ({ start, length }));
  /** Waits for every write, then flushes every live target (once); its flushes are in the targets' pending lists too. */
  let flushing: Promise<void> | null = null;
  const flushData = (): Promise<void> =>
    (flushing ??= (async () => {
      await settlePending(targets);
      const syncs = live(targets).map((t) => {
        const sync = syncTarget(t, reporter);
        t.pending.push(sync);
        return sync;
      });
      await Promise.all(syncs);
    })());
  try {
    for (const t of targets) {
      if (t.plan.drive && t.plan.drive.mountpoints.length > 0) await unmountAll(t.plan.path, t.plan.drive.mountpoints);
    }
    for (const t of targets) {
      try {
        openTarget(t, size);
      } catch (err) {
        fail(t, classifyWriteError(err, t.plan.path, 0), reporter);
      }
    }
    const writing = () => ({ done: Math.min(...live(targets).map((t) => t.progress.bytesWritten), storage.storedBytes), total: storage.storedBytes, targets: progress });
    reporter.phaseStarted('writing', writing);
    if (opts.wipeFreeSpace) {
      for (const t of live(targets)) {
        const end = t.plan.isBlockDevice ? blockDeviceSize(t.plan.path) : size;
        await wipeRanges(t.plan.path, t.fd as number, complementWithin(ranges, 0, end), t.plan.isBlockDevice, opts.signal).catch((err) => {
          if (err instanceof ImprintError && err.code === 'E_CANCELLED') throw err;
          fail(t, err, reporter);
        });
      }
    }
    if (opts.verify) {
      for (const t of live(targets)) t.early = new EarlyReadBack(t.plan.path, t.plan.isBlockDevice, storage.chunkSize, crcs, (n) => void (t.progress.bytesVerified += n));
    }
    // The writes are flushed as soon as the last chunk is handed on, while the SHA-256 thread finishes (8-28 ms).
    const { first, sha256, crcsChecked } = await writeStored(info, storage, crcs, size, targets, reporter, { signal: opts.signal, onHandedOn: () => void flushData().catch(() => undefined) }, opts.chunks);
    // The stored data must have the SHA-256 the backup recorded (null: a backup folder's pieces were each checked against their names); otherwise the head is never written.
    if (sha256 !== null && sha256 !== metadata.sha256) {
      throw new ImprintError('E_CHECKSUM_MISMATCH', `The backup's content does not have the SHA-256 it recorded (expected ${metadata.sha256}, got ${sha256}): the backup file or its description is corrupt. The drives' partition tables were not written, so they do not look usable.`);
    }
    await flushData();
    // A backup folder restored with read-back had its chunks' CRC-32s left to it (stored-chunks.ts, decodeFolderChunks):
    // every chunk, its writes done, is read back against the record before the head, so a mismatch leaves no partition table.
    if (sha256 === null && !crcsChecked) await readBackBeforeHead(targets, reporter);
    // The head last: until now the drive holds no partition table that points at half-written data.
    if (first) {
      await Promise.all(writeChunk(targets, first.buf, 0, first.parts, reporter));
      await settlePending(targets);
      await Promise.all(live(targets).map((t) => syncTarget(t, reporter)));
    }
    reporter.flush(writing);
    closeAll(targets);
    if (opts.verify) {
      for (const t of live(targets)) t.progress.status = 'verifying';
      const verifying = () => ({ done: Math.min(...live(targets).map((t) => t.progress.bytesVerified), storage.storedBytes), total: storage.storedBytes, targets: progress });
      reporter.phaseStarted('verifying', verifying);
      await Promise.all(live(targets).map((t) => verifyTarget(t, storage, crcs, size, opts.signal).then(() => (t.progress.status = 'verified'), (err) => fail(t, err, reporter))));
      reporter.flush(verifying);
    } else for (const t of live(targets)) t.progress.status = 'written';
    if (metadata.partitionTable?.type === 'gpt') {
      for (const t of live(targets).filter((x) => x.plan.isBlockDevice)) notes.push(...moveGpt(t, size, metadata.partitionTable.sectorSize));
    }
    for (const n of notes) reporter.warning(n);
    const ok = progress.every((p) => p.status === (opts.verify ? 'verified' : 'written'));
    reporter.phaseStarted('done', () => ({ done: storage.storedBytes, total: storage.storedBytes, targets: progress }));
    const firstError = progress.find((p) => p.error)?.error;
    return finish(ok, ok || !firstError ? {} : { error: firstError });
  } catch (err) {
    for (const t of live(targets)) t.progress.status = err instanceof ImprintError && err.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
    return finish(false, { error: toErrorInfo(err) });
  } finally {
    // A flush still in libuv's pool must not find its descriptor closed under it.
    // (Assigned in flushData's closure, which the compiler does not follow.)
    await (flushing as Promise<void> | null)?.catch(() => undefined);
    await settlePending(targets);
    for (const t of targets) await t.early?.close();
    closeAll(targets);
  }
}

/**
 * Decodes the backup and writes its stored ranges, checking each chunk's
 * CRC-32 first and taking the SHA-256 of the stored data (its ranges in drive order). Returns
 * the first chunk's stored parts, held back, and that SHA-256 (null when
 * a backup folder's decoder checked each piece against its name instead).
 */
async function writeStored(
  info: SourceInfo,
  storage: BackupStorage,
  crcs: Uint32Array,
  driveSize: number,
  targets: Target[],
  reporter: JobReporter,
  decodeOpts: DecodeOptions,
  chunks?: ChunkDecoder,
): Promise<{ first: { buf: Buffer; parts: ByteRange[] } | null; sha256: string | null; crcsChecked: boolean }> {
  const { signal } = decodeOpts;
  // A seekable .zst (what Imprint writes): only the frames holding stored ranges are decoded, on several threads.
  let held: { buf: Buffer; parts: ByteRange[] } | null = null;
  // A backup folder's generation brings its own decoder (chunks), which reads its pieces on threads.
  const decode: ChunkDecoder = chunks ?? ((...args) => decodeStoredChunks(info, ...args));
  const seekable = await decode(storage, crcs, driveSize, decodeOpts, (chunk) => {
    if (live(targets).length === 0) throw fromErrorInfo(targets[0]?.progress.error ?? { code: 'E_WRITE', message: 'Every target failed.' });
    if (chunk.index === 0) {
      // Held back where it was decoded: its slot is never given back (the promise never settles), so
      // no copy's pages are touched (a page fault costs 13-18 us here).
      held = { buf: chunk.buf, parts: chunk.parts };
      return new Promise<void>(() => undefined);
    }
    const writing = live(targets);
    const ref: StoredChunkRef = { index: chunk.index, at: chunk.at, length: chunk.buf.length, parts: chunk.parts };
    // Each target reads the chunk back as soon as its own writes of it are done (writeChunk's promises never reject).
    const writes = writeChunk(targets, chunk.buf, chunk.at, chunk.parts, reporter).map((w, i) =>
      w.then(() => {
        const t = writing[i] as Target;
        if (t.progress.status !== 'failed') t.early?.offer(ref);
      }),
    );
    return Promise.all(writes).then(() => undefined);
  });
  if (seekable) return { first: held, sha256: seekable.sha256, crcsChecked: seekable.crcsChecked };
  const hash = crypto.createHash('sha256');
  const size = crcs.length > 0 ? Math.min(storage.chunkSize * crcs.length, Number.MAX_SAFE_INTEGER) : 0;
  const cursor = new RangeCursor(storage.ranges.map(([start, length]) => ({ start, length })));
  const buffers = Array.from({ length: BUFFERS }, () => ({ buf: allocAligned(storage.chunkSize), writes: [] as Promise<void>[] }));
  let first: { buf: Buffer; parts: ByteRange[] } | null = null;
  let index = 0;
  let filled = 0;
  let slot = buffers[0] as (typeof buffers)[number];
  const flushChunk = async (length: number): Promise<void> => {
    const at = index * storage.chunkSize;
    const parts = cursor.clip(at, at + length);
    for (const p of parts) hash.update(slot.buf.subarray(p.start - at, p.start - at + p.length));
    if (parts.length > 0) {
      if (chunkCrc(slot.buf.subarray(0, length)) !== crcs[index]) {
        throw new ImprintError('E_CORRUPT_SOURCE', `${info.path} is damaged: its data between bytes ${at} and ${at + length} does not match the checksum the backup recorded. The drive's partition table was not written.`, { offset: at });
      }
      if (index === 0) {
        // Held back in its own page-aligned copy (O_DIRECT writes need aligned memory).
        const held = allocAligned(length);
        slot.buf.copy(held, 0, 0, length);
        first = { buf: held, parts };
      }
      else slot.writes = writeChunk(targets, slot.buf, at, parts, reporter);
    }
    index++;
    filled = 0;
    slot = buffers[index % BUFFERS] as (typeof buffers)[number];
    await Promise.all(slot.writes.splice(0));
    // Every drive failed: stop decoding, and report the first drive's error.
    if (live(targets).length === 0) throw fromErrorInfo(targets[0]?.progress.error ?? { code: 'E_WRITE', message: 'Every target failed.' });
  };
  for await (const piece of openContent(info, { signal, transient: true })) {
    let from = 0;
    while (from < piece.length) {
      const n = Math.min(piece.length - from, storage.chunkSize - filled);
      piece.copy(slot.buf, filled, from, from + n);
      filled += n;
      from += n;
      if (filled === storage.chunkSize) await flushChunk(filled);
    }
  }
  if (filled > 0) await flushChunk(filled);
  if (index * storage.chunkSize < size && index < crcs.length) {
    throw new ImprintError('E_CORRUPT_SOURCE', `${info.path} ends after ${index} chunks; the backup recorded ${crcs.length}. It is truncated. The drive's partition table was not written.`);
  }
  return { first, sha256: hash.digest('hex'), crcsChecked: true };
}
