import * as fs from 'fs';
import { ImprintError, errnoOf, toErrorInfo } from '../errors';
import { GrowingFile } from '../io/growing-file';
import { GROWING_FEED_WORKER } from '../formats/growing-feed-protocol';
import { workerPort } from './worker-port';

/**
 * Feeds a decoder program (xz, lbzip2) a file that is still downloading:
 * waits for each piece to arrive (io/growing-file.ts), then writes it to
 * the program's stdin pipe, blocking while the pipe is full. Its own thread,
 * because the thread reading the program's output (program-reader.ts)
 * blocks in those reads and so cannot feed the program too; before, a
 * followed download was decoded through Node streams on both sides, which
 * cost a 1 GiB .xz image about 0.7 CPU-s more than decoding the file from
 * disk. The pipe is closed at the end in every case: the program then sees
 * the end of its input (a truncated one when the download failed, and the
 * reader reports this thread's error instead of the program's).
 */
const port = workerPort(GROWING_FEED_WORKER);
const { path, growing, pipe, opened, fed } = port.data;
const PIECE = 1 << 20;

function feed(): number {
  const file = new GrowingFile(growing);
  const counter = new BigInt64Array(fed);
  const buf = Buffer.allocUnsafe(PIECE);
  const fd = fs.openSync(path, 'r');
  try {
    let pos = 0;
    for (;;) {
      file.waitFor(pos + 1, () => {
        if (port.cancelled()) throw new ImprintError('E_CANCELLED', 'Cancelled.');
      });
      // `available` before the state: a file seen complete has every byte, one still growing has those counted.
      const arrived = file.available;
      const limit = file.state === 'complete' ? Infinity : arrived;
      const n = fs.readSync(fd, buf, 0, Math.min(PIECE, limit - pos), pos);
      if (n === 0) return pos;
      for (let done = 0; done < n; ) done += fs.writeSync(pipeFd, buf, done, n - done);
      pos += n;
      Atomics.store(counter, 0, BigInt(pos));
    }
  } finally {
    fs.closeSync(fd);
  }
}

// The program has the read end open, so this open does not block.
const pipeFd = fs.openSync(pipe, fs.constants.O_WRONLY);
const flag = new Int32Array(opened);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
try {
  const bytes = feed();
  port.post({ type: 'done', bytes });
} catch (err) {
  // EPIPE: the program stopped reading (it failed on the data, and says why itself, or its reader closed it).
  if (errnoOf(err) !== 'EPIPE') port.post({ type: 'error', error: toErrorInfo(err) });
} finally {
  fs.closeSync(pipeFd);
  port.close();
}
