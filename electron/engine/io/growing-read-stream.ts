import * as fs from 'fs';
import { Readable } from 'stream';
import { followedFile, type GrowingFile } from './growing-file';

/** fs.createReadStream's options that the decoders use; `end` is inclusive, as there. */
export interface FileStreamOptions {
  start?: number;
  end?: number;
  highWaterMark?: number;
  signal?: AbortSignal;
}

/**
 * A file's bytes as a stream, for decoders that read through Node streams
 * (gzip and zip streams, the JavaScript bzip2 decoder, a decoder program's
 * stdin). An ordinary file is fs.createReadStream's; a file this thread
 * follows while it downloads (io/growing-file.ts) is read only as far as it
 * has arrived, the stream waiting, without blocking the thread, for the rest.
 */
export function openFileStream(path: string, opts: FileStreamOptions = {}): Readable {
  const growing = followedFile(path);
  return growing ? growingFileStream(path, growing, opts) : fs.createReadStream(path, opts);
}

/**
 * Reads `path` as `growing` says it grows. The file may already have its
 * final size with zeros where bytes are still on their way (the download
 * sets it up front), so nothing beyond `available` is read until the
 * download is complete. A failed download ends the stream with the
 * download's E_DOWNLOAD_FAILED.
 */
export function growingFileStream(path: string, growing: GrowingFile, opts: FileStreamOptions = {}): Readable {
  const chunk = opts.highWaterMark ?? 1 << 20;
  const stop = opts.end === undefined ? Infinity : opts.end + 1;
  let pos = opts.start ?? 0;
  let fd = -1;
  const readOnce = async (): Promise<Buffer | null> => {
    if (pos >= stop) return null;
    await growing.waitForAsync(pos + 1);
    // Read `available` before the state: a file seen complete has every byte, one still growing has those counted.
    const arrived = growing.available;
    const limit = growing.state === 'complete' ? Infinity : arrived;
    const want = Math.min(chunk, limit - pos, stop - pos);
    const buf = Buffer.allocUnsafe(want);
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, want, pos, (err, bytes) => (err ? reject(err) : resolve(bytes))));
    if (n === 0) return null;
    pos += n;
    return buf.subarray(0, n);
  };
  return new Readable({
    highWaterMark: chunk,
    signal: opts.signal,
    construct(callback) {
      fs.open(path, 'r', (err, opened) => {
        fd = opened;
        callback(err);
      });
    },
    read() {
      readOnce().then(
        (piece) => this.push(piece),
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      if (fd < 0) return callback(err);
      fs.close(fd, () => callback(err));
      fd = -1;
    },
  });
}
