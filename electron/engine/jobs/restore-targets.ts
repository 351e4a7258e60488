import * as fs from 'fs';
import type { TargetProgress } from '../../../shared/job-events';
import { classifyWriteError, toErrorInfo } from '../errors';
import { blockDeviceSize } from '../io/block-device';
import type { ByteRange } from '../disks/filesystem-driver';
import { relocateBackupGpt } from '../disks/gpt-relocate';
import type { JobReporter } from './job-reporter';
import type { TargetPlan } from '../pipelines/target-plan';
import type { EarlyReadBack } from '../pipelines/stored-readback';

/**
 * The drives a smart restore writes (jobs/smart-restore.ts): each opened
 * once, written chunk by chunk in libuv's pool, flushed along the way, and
 * failed alone, so one bad drive does not stop the others.
 */

export interface Target {
  plan: TargetPlan;
  progress: TargetProgress;
  fd: number | null;
  /** Writes still in libuv's pool; awaited before a buffer is reused and before closing. */
  pending: Promise<void>[];
  /** Reads chunks back while the rest is written (a restore that verifies, from a seekable backup). */
  early: EarlyReadBack | null;
  /** Bytes written since the last flush was started. */
  unsynced: number;
}

function writeAll(t: Target, buf: Buffer, position: number): Promise<void> {
  const fd = t.fd as number;
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void => {
      fs.write(fd, buf, done, buf.length - done, position + done, (err, n) => {
        if (err) return reject(classifyWriteError(err, t.plan.path, position + done));
        if (n <= 0) return reject(classifyWriteError(Object.assign(new Error('no progress'), { code: 'ENOSPC' }), t.plan.path, position + done));
        done += n;
        t.progress.bytesWritten += n;
        if (done < buf.length) step();
        else resolve();
      });
    };
    step();
  });
}

/** Marks a target failed with `err` and reports it, once; the others go on. */
export function fail(t: Target, err: unknown, reporter: JobReporter): void {
  if (t.progress.status === 'failed') return;
  t.progress.status = 'failed';
  t.progress.error = toErrorInfo(err);
  reporter.targetFailed(t.plan.path, t.progress.error);
}

/** The targets not failed. */
export const live = (targets: Target[]): Target[] => targets.filter((t) => t.progress.status !== 'failed');

/** Opens a drive for direct, exclusive writing (O_EXCL: refused while mounted), or a file made the drive's size. */
export function openTarget(t: Target, size: number): void {
  if (t.plan.isBlockDevice) {
    t.fd = fs.openSync(t.plan.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT | fs.constants.O_EXCL);
    return;
  }
  t.fd = fs.openSync(t.plan.path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  fs.ftruncateSync(t.fd, size);
}

/**
 * Bytes written between two flushes started while the restore goes on. The
 * last flush waited for what the drive still held in its cache (0.4-0.5 s on
 * the bench's loop device, after 800 MB of O_DIRECT writes, with nothing else
 * running); flushing along the way spreads that over the writing.
 */
const SYNC_EVERY = 128 << 20;

/** Writes the parts of one chunk to every live target. */
export function writeChunk(targets: Target[], buf: Buffer, chunkStart: number, parts: ByteRange[], reporter: JobReporter): Promise<void>[] {
  return live(targets).map((t) => {
    const p = (async () => {
      for (const part of parts) await writeAll(t, buf.subarray(part.start - chunkStart, part.start - chunkStart + part.length), part.start);
      t.unsynced += parts.reduce((n, part) => n + part.length, 0);
      // A flush error is reported once: it fails the target here, as it would at the last flush.
      if (t.unsynced >= SYNC_EVERY && t.fd !== null) {
        t.unsynced = 0;
        t.pending.push(syncTarget(t, reporter));
      }
    })().catch((err) => fail(t, err, reporter));
    t.pending.push(p);
    return p;
  });
}

/** Flushes a target; asynchronous, so the chunks still waiting to be read back are read meanwhile. */
export async function syncTarget(t: Target, reporter: JobReporter): Promise<void> {
  const fd = t.fd as number;
  await new Promise<void>((resolve) => fs.fsync(fd, (err) => {
    if (err) fail(t, classifyWriteError(err, t.plan.path, 0), reporter);
    resolve();
  }));
}

/** Waits for every write and flush in flight, including flushes that writes ending meanwhile started. */
export async function settlePending(targets: Target[]): Promise<void> {
  for (const t of targets) {
    while (t.pending.length > 0) await Promise.allSettled(t.pending.splice(0));
  }
}

/** Closes every target still open; called again in a finally, so idempotent. */
export function closeAll(targets: Target[]): void {
  for (const t of targets) {
    if (t.fd !== null) fs.closeSync(t.fd);
    t.fd = null;
  }
}

/** Moves a GPT's backup header to the end of a larger drive; returns what to tell the user. */
export function moveGpt(t: Target, imageSize: number, sector: number): string[] {
  const driveSize = blockDeviceSize(t.plan.path);
  if (driveSize <= imageSize) return [];
  const fd = fs.openSync(t.plan.path, fs.constants.O_RDWR);
  try {
    const moved = relocateBackupGpt(fd, driveSize, sector);
    fs.fsyncSync(fd);
    return moved ? [`${t.plan.path} is larger than the backed-up drive: its backup GPT was moved from sector ${moved.fromLastLba} to the new last sector ${moved.toLastLba}, so the space after the last partition can be used.`] : [];
  } finally {
    fs.closeSync(fd);
  }
}
