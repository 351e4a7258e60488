import * as fs from 'fs';
import { ImprintError, classifyReadError, classifyWriteError, errnoOf, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { blockDeviceSize } from '../io/block-device';
import { writeFully } from '../io/full-io';
import { workerPort } from './worker-port';
import { Rescuer, defaultTuning, type RescueIo } from './rescue-algorithm';
import { RescueMap, formatMapfile, writeFileAtomic } from '../formats/rescue-map';
import { RESCUE_WORKER, type RescueCounters } from './rescue-protocol';

/**
 * The rescue's thread: blocking O_DIRECT reads of the source (the page cache
 * would hide read errors and serve stale data), rescued data written to the
 * output at the same offset, the map saved every 2 s and after each pass.
 * The output is fsynced before each map save, so a saved map never calls
 * finished what is not yet on disk.
 */
const port = workerPort(RESCUE_WORKER);
const data = port.data;
const control = port.cancelFlag;
const sec = data.sectorSize;
const PROGRESS_MS = 100;
// The map is cheap to write and a crash loses at most this much work; ddrescue waits 30 s or more, for huge maps.
const SAVE_MS = 2000;
const GONE = new Set(['ENXIO', 'ENODEV', 'ENOENT', 'ESHUTDOWN', 'ENOTCONN']);

const map = new RescueMap(data.size, data.blocks);
map.currentPos = data.currentPos;
map.currentStatus = data.currentStatus;
map.currentPass = data.currentPass;
const tuning = defaultTuning(data.size, sec, data.retries);
const isDevice = fs.statSync(data.source).isBlockDevice();

function openSource(): number {
  try {
    return fs.openSync(data.source, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    // A source file on a filesystem without O_DIRECT (tmpfs) is read buffered; a device never is.
    if (!isDevice && errnoOf(err) === 'EINVAL') return fs.openSync(data.source, 'r');
    throw classifyReadError(err, data.source, 0);
  }
}

function openOutput(): number {
  let fd: number;
  try {
    // Never O_TRUNC: on resume the output already holds what earlier runs rescued.
    fd = fs.openSync(data.output, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw classifyWriteError(err, data.output, 0);
  }
  // Sized to the source up front: areas never rescued stay holes, which read as zeros.
  if (fs.fstatSync(fd).size < data.size) fs.ftruncateSync(fd, data.size);
  return fd;
}

const buf = allocAligned(tuning.largeCluster + 2 * Math.max(sec, 4096));

function sourceGone(): boolean {
  if (!isDevice) return false;
  try {
    return blockDeviceSize(data.source) < data.size;
  } catch {
    return true;
  }
}

function makeIo(src: number, out: number): RescueIo {
  return {
    read(pos, length) {
      // O_DIRECT needs sector-aligned offsets and lengths; a map from elsewhere may not be aligned.
      const start = Math.floor(pos / sec) * sec;
      const span = Math.ceil((pos + length) / sec) * sec - start;
      let done = 0;
      while (done < span) {
        let n: number;
        try {
          n = fs.readSync(src, buf, done, span - done, start + done);
        } catch (err) {
          if (GONE.has(errnoOf(err) ?? '') || sourceGone()) throw classifyReadError(err, data.source, start + done);
          break;
        }
        if (n <= 0) {
          if (sourceGone()) throw new ImprintError('E_DEVICE_GONE', `${data.source} is gone at byte offset ${start + done}: it now reports a smaller size.`, { offset: start + done });
          break;
        }
        done += n;
      }
      const good = Math.max(0, Math.min(done - (pos - start), length));
      if (done === 0 || (good === 0 && done < span)) return null;
      return buf.subarray(pos - start, pos - start + good);
    },
    write(pos, bytes) {
      try {
        writeFully(out, bytes, pos);
      } catch (err) {
        throw classifyWriteError(err, data.output, pos);
      }
    },
  };
}

let rescuer: Rescuer | null = null;

function counters(): RescueCounters {
  return {
    phase: map.currentStatus,
    pass: map.currentPass,
    position: map.currentPos,
    totals: map.totals(),
    reads: rescuer?.reads ?? 0,
    readErrors: rescuer?.readErrors ?? 0,
    bytesRequested: rescuer?.bytesRequested ?? 0,
  };
}

function saveMap(out: number): void {
  try {
    fs.fsyncSync(out);
  } catch (err) {
    throw classifyWriteError(err, data.output, 0);
  }
  try {
    writeFileAtomic(data.mapfile, formatMapfile(map, { commandLine: data.commandLine, startTime: new Date(data.startTime), version: data.version }));
  } catch (err) {
    throw new ImprintError(errnoOf(err) === 'ENOSPC' ? 'E_NO_SPACE' : 'E_WRITE', `Cannot save the mapfile ${data.mapfile}: ${(err as Error).message}`, { cause: err });
  }
}

function main(): void {
  let error: ReturnType<typeof toErrorInfo> | undefined;
  let finished = false;
  let src = -1;
  let out = -1;
  try {
    src = openSource();
    out = openOutput();
    const started = Date.now();
    let lastProgress = 0;
    let lastSave = started;
    const outFd = out;
    rescuer = new Rescuer(map, makeIo(src, out), tuning, {
      cancelled: () => Atomics.load(control, 0) === 1,
      afterRead: () => {
        const now = Date.now();
        if (now - lastProgress >= PROGRESS_MS) {
          lastProgress = now;
          port.post({ type: 'progress', counters: counters() });
        }
        if (now - lastSave >= SAVE_MS) {
          lastSave = now;
          saveMap(outFd);
        }
        if (data.maxReadRate > 0 && rescuer) {
          // Sleep until the average rate is back under the cap; a cancel's notify wakes it early.
          const ahead = (rescuer.bytesRequested / data.maxReadRate) * 1000 - (now - started);
          if (ahead > 0) Atomics.wait(control, 0, 0, ahead);
        }
      },
      passEnded: () => {
        lastSave = Date.now();
        saveMap(outFd);
      },
    });
    if (data.traceReads) rescuer.trace = [];
    finished = rescuer.run();
  } catch (err) {
    error = toErrorInfo(err);
  }
  // Saved on every way out (end, cancel, error) so that the next run resumes here.
  if (out >= 0) {
    try {
      saveMap(out);
    } catch (err) {
      error ??= toErrorInfo(err);
    }
  }
  for (const fd of [src, out]) if (fd >= 0) fs.closeSync(fd);
  port.post({
    type: 'done',
    counters: counters(),
    blocks: map.blocks,
    cancelled: !finished && error === undefined,
    ...(error ? { error } : {}),
    ...(rescuer?.trace ? { readTrace: rescuer.trace } : {}),
  });
}

main();
