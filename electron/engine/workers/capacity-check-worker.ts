import * as fs from 'fs';
import { ImprintError, deviceGoneError, errnoOf, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { blockDeviceSize, logicalBlockSize } from '../io/block-device';
import { deviceResponds } from '../io/device-faults';
import { CAPACITY_CHECK_WORKER } from './capacity-check-protocol';
import { MARKER_BYTES, decodeMarker, encodeMarker, type MarkerResult } from '../drives/capacity-markers';
import { workerPort } from './worker-port';

/**
 * The capacity check's I/O, on its own thread (a hung drive blocks this
 * thread, not the app): saves what each marker page holds, writes every
 * marker, reads them all back, then puts the saved pages back, last marker
 * first. All with O_DIRECT: a read-back from the page cache would pass on a
 * drive that kept nothing.
 */
const port = workerPort(CAPACITY_CHECK_WORKER);
const data = port.data;
const stop = port.cancelFlag;
const cancelled = (): boolean => Atomics.load(stop, 0) === 1;

function openTarget(): number {
  try {
    return fs.openSync(data.target, fs.constants.O_RDWR | fs.constants.O_DIRECT | fs.constants.O_EXCL);
  } catch (err) {
    if (errnoOf(err) === 'EBUSY') throw new ImprintError('E_TARGET_MOUNTED', `${data.target} is in use (a partition is mounted or another program has it open). Unmount it and try again.`, { cause: err });
    throw deviceGoneError(data.target, 0, err);
  }
}

function run(): void {
  if (blockDeviceSize(data.target) === 0) throw new ImprintError('E_DEVICE_GONE', `${data.target} reports a size of 0: no medium, or the drive is gone.`);
  const fd = openTarget();
  const page = allocAligned(MARKER_BYTES);
  const saved = new Map<number, Buffer>();
  const written: number[] = [];
  const results: MarkerResult[] = [];
  let restored = 0;
  try {
    for (const offset of data.offsets) {
      try {
        if (fs.readSync(fd, page, 0, MARKER_BYTES, offset) === MARKER_BYTES) saved.set(offset, Buffer.from(page));
      } catch {
        // Unreadable before we wrote anything: the read-back will say so.
      }
    }
    let done = 0;
    const failedWrites = new Map<number, string>();
    for (const offset of data.offsets) {
      if (cancelled()) break;
      try {
        if (fs.writeSync(fd, encodeMarker(offset, data.nonce, page), 0, MARKER_BYTES, offset) !== MARKER_BYTES) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        written.push(offset);
      } catch (err) {
        if (!deviceResponds(data.target, logicalBlockSize(data.target))) throw deviceGoneError(data.target, offset, err);
        failedWrites.set(offset, errnoOf(err) ?? 'EIO');
      }
      port.post({ type: 'progress', phase: 'writing', done: ++done });
    }
    done = 0;
    for (const offset of data.offsets) {
      if (cancelled()) break;
      const writeErrno = failedWrites.get(offset);
      if (writeErrno) results.push({ offset, state: 'write-error', errno: writeErrno });
      else results.push(readBack(fd, page, offset));
      port.post({ type: 'progress', phase: 'verifying', done: ++done });
    }
  } finally {
    // Last marker first: on a wrapping drive, two markers share a page, and
    // both saved the same original; any order restores it, this one is plain.
    for (const offset of written.reverse()) {
      const original = saved.get(offset);
      if (!original) continue;
      try {
        original.copy(page);
        fs.writeSync(fd, page, 0, MARKER_BYTES, offset);
        restored++;
      } catch {
        // Reported as not restored.
      }
    }
    try {
      fs.fsyncSync(fd);
    } catch {
      // Writes were O_DIRECT; a failed flush changes nothing we can report better.
    }
    fs.closeSync(fd);
  }
  port.post({ type: 'done', results, cancelled: cancelled(), restored, notRestored: written.length - restored });
}

function readBack(fd: number, page: Buffer, offset: number): MarkerResult {
  try {
    const n = fs.readSync(fd, page, 0, MARKER_BYTES, offset);
    if (n !== MARKER_BYTES) return { offset, state: 'lost' };
  } catch (err) {
    if (!deviceResponds(data.target, logicalBlockSize(data.target))) throw deviceGoneError(data.target, offset, err);
    return { offset, state: 'read-error', errno: errnoOf(err) ?? 'EIO' };
  }
  const found = decodeMarker(page, data.nonce);
  if (found === offset) return { offset, state: 'intact' };
  return found === null ? { offset, state: 'lost' } : { offset, state: 'overwritten', by: found };
}

try {
  run();
} catch (err) {
  port.post({ type: 'error', error: toErrorInfo(err) });
}
