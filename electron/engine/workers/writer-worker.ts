import * as fs from 'fs';
import { ImprintError, classifyWriteError, fromErrorInfo, deviceGoneError, errnoOf, toErrorInfo } from '../errors';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { blockDeviceSize, logicalBlockSize } from '../io/block-device';
import { deviceResponds, diagnoseWriteFailure } from '../io/device-faults';
import { writeFully, fsyncChecked } from '../io/full-io';
import { ZeroRuns, deviceZeroOutInBackground } from '../io/zero-runs';
import { probeWrap } from '../drives/wrap-probe';
import { workerPort } from './worker-port';
import { WRITER_WORKER } from './messages';

/**
 * Writes the ring's slots to one target. Block devices are written with
 * O_DIRECT, so "written" means on the device, not in the page cache, and
 * progress is truthful (no minutes-long flush at the end). The image's first
 * bytes (partition table, boot code) are held back and written last: a flash
 * that stops half-way never leaves a drive that looks bootable.
 */
const port = workerPort(WRITER_WORKER);
const data = port.data;
const { ring, target, isBlockDevice } = data;
const WIPE = 1 << 20;

let fd = -1;
let blockSize = 512;
let deviceSize = 0;
let failed = false;
const head = allocAligned(Math.max(data.headBytes, 4096));
let headLength = 0;
/** Aligned, so runs of zeros can be written from it with O_DIRECT. */
const zeros = allocAligned(ring.slotSize);
/** Runs of zeros held back to be zeroed by the drive itself, in the background (block devices only). */
let zeroRuns: ZeroRuns | null = null;
/** Kills a zeroing still running when the write is abandoned. */
const stopZeroing = new AbortController();
/** Ranges of the image that reached the target since the last message: the verifier may read them back. */
let landed: [number, number][] = [];
/** Bytes of runs of zeros that reached the target since the last message. */
let zeroBytes = 0;
/** A 'write' is being handled: what lands meanwhile goes out with its 'written'. */
let handling = false;

/** A run of zeros is on the target: reported with the slot being written, or at once when it finished in the background. */
function zerosLanded(offset: number, length: number): void {
  landed.push([offset, length]);
  zeroBytes += length;
  if (handling || failed) return;
  port.post({ type: 'zeroed', bytes: zeroBytes, landed });
  zeroBytes = 0;
  landed = [];
}

function open(): void {
  if (isBlockDevice) {
    // O_EXCL on a block device: the kernel refuses if a partition is mounted or the device is in use.
    try {
      fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_DIRECT | fs.constants.O_EXCL);
    } catch (err) {
      if (errnoOf(err) === 'EBUSY') {
        throw new ImprintError('E_TARGET_MOUNTED', `${target} is in use (a partition is mounted or another program has it open). Unmount it and try again.`, { cause: err });
      }
      throw classifyWriteError(err, target, 0);
    }
    blockSize = logicalBlockSize(target);
    deviceSize = blockDeviceSize(target);
    if (deviceSize === 0) throw new ImprintError('E_DEVICE_GONE', `${target} reports a size of 0: no medium, or the drive is gone.`);
    // Wipe the old partition table at both ends (GPT keeps a backup copy in the last sectors).
    const wipe = allocAligned(WIPE);
    writeAt(wipe, 0, Math.min(WIPE, deviceSize));
    if (deviceSize > 2 * WIPE) writeAt(wipe, deviceSize - WIPE, WIPE);
    if (data.wrapProbeExtent !== null) {
      const wraps = probeWrap(fd, target, Math.min(data.wrapProbeExtent, deviceSize), deviceSize);
      if (wraps) throw fromErrorInfo(wraps);
    }
    zeroRuns = new ZeroRuns(deviceZeroOutInBackground(target, data.zeroOut, stopZeroing.signal), writeZerosAt, blockSize, undefined, zerosLanded);
  } else {
    fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    deviceSize = Number.MAX_SAFE_INTEGER;
  }
}

/**
 * One write, padded to whole sectors for O_DIRECT; errors folded into user
 * terms. On a drive, a failed write is examined (device-faults.ts): gone, or
 * the exact bad sector; one that goes through on a second try is not an error.
 */
function writeAt(buf: Buffer, offset: number, length: number): void {
  const len = isBlockDevice ? alignUp(length, blockSize) : length;
  checkFits(offset, length);
  const piece = buf.subarray(0, Math.min(len, buf.length));
  try {
    writeFully(fd, piece, offset);
  } catch (err) {
    const error = isBlockDevice ? diagnoseWriteFailure(fd, target, piece, offset, blockSize, err) : classifyWriteError(err, target, offset);
    if (error) throw error;
  }
}

/** A drive that ends before the image does is too small, whatever would be written there. */
function checkFits(offset: number, length: number): void {
  if (isBlockDevice && offset + length > deviceSize) {
    throw new ImprintError('E_TARGET_END', `${target} ended at byte ${deviceSize}, before the end of the image: the drive is too small for it.`, { offset: deviceSize });
  }
}

/** Zero-filled writes: the fallback for a run of zeros the drive did not zero itself. */
function writeZerosAt(offset: number, length: number): void {
  for (let done = 0; done < length; done += zeros.length) writeAt(zeros, offset + done, Math.min(zeros.length, length - done));
}

/**
 * Writes one slot, or holds it back when it is all zeros. Returns the bytes
 * of data now on the target, for progress: a held-back run counts once it is
 * zeroed (zerosLanded).
 */
function handleWrite(slot: number, offset: number, length: number): number {
  let buf = Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);
  let at = offset;
  let len = length;
  if (at < data.headBytes) {
    const n = Math.min(data.headBytes - at, len);
    buf.copy(head, at, 0, n);
    headLength = Math.max(headLength, at + n);
    buf = buf.subarray(n);
    at += n;
    len -= n;
    if (len === 0) return length;
  }
  // Only compared where zeros are treated apart: a file's holes, or a drive that zeroes runs itself.
  const allZero = (!isBlockDevice || zeroRuns?.enabled === true) && buf.subarray(0, len).equals(zeros.subarray(0, len));
  // File targets stay sparse: a chunk of zeros becomes a hole (bmaptool's idea).
  if (!isBlockDevice && allZero) return length;
  if (zeroRuns && allZero) {
    checkFits(at, len);
    zeroRuns.add(at, len);
    return length - len;
  }
  zeroRuns?.flush();
  writeAt(buf, at, len);
  landed.push([at, len]);
  return length;
}

/** Puts what was held back on the target once every run of zeros is there, then flushes it. */
async function finish(totalBytes: number): Promise<void> {
  zeroRuns?.flush();
  await zeroRuns?.settled();
  if (failed) return;
  if (headLength > 0) writeAt(head, 0, headLength);
  if (!isBlockDevice) fs.ftruncateSync(fd, totalBytes);
  try {
    fsyncChecked(fd);
  } catch (err) {
    // Writes were O_DIRECT: a failed flush is about the drive, not a sector.
    if (isBlockDevice && !deviceResponds(target, blockSize)) throw deviceGoneError(target, totalBytes, err);
    if (isBlockDevice) throw new ImprintError('E_WRITE', `${target} failed to flush its write cache (${errnoOf(err) ?? String(err)}): the data may not all be on the medium.`, { cause: err });
    throw classifyWriteError(err, target, 0);
  }
  fs.closeSync(fd);
  fd = -1;
}

function closeQuietly(): void {
  zeroRuns?.stop();
  stopZeroing.abort();
  if (fd >= 0) {
    try {
      fs.closeSync(fd);
    } catch {
      // Closing after a failure: the failure was reported already.
    }
    fd = -1;
  }
}

function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  closeQuietly();
  port.post({ type: 'error', error: toErrorInfo(err) });
}

port.onMessage((msg) => {
  if (failed) return;
  try {
    switch (msg.type) {
      case 'write': {
        // Zeros written for a run the drive refused, in the background, failed: the drive's error.
        if (zeroRuns?.failed) throw zeroRuns.failed;
        handling = true;
        const bytes = handleWrite(msg.slot, msg.offset, msg.length) + zeroBytes;
        zeroBytes = 0;
        port.post({ type: 'written', slot: msg.slot, bytes, landed });
        landed = [];
        break;
      }
      case 'finish':
        finish(msg.totalBytes).then(() => {
          if (!failed) port.post({ type: 'finished', bytes: 0 });
        }, fail);
        break;
      case 'abandon':
        // (Also ends a finish still waiting for its runs of zeros: it writes nothing more.)
        failed = true;
        closeQuietly();
        port.post({ type: 'abandoned' });
        break;
    }
  } catch (err) {
    fail(err);
  } finally {
    handling = false;
  }
});

try {
  open();
  port.post({ type: 'ready', deviceSize, blockSize });
} catch (err) {
  failed = true;
  closeQuietly();
  port.post({ type: 'error', error: toErrorInfo(err) });
}
