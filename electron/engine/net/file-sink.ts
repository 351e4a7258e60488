import * as fs from 'fs';
import type { DownloadSink } from './http-download';

/**
 * Writes a download into an open file at the offsets it arrives at (a cache
 * entry's temporary file). `written` is how far the file holds the download,
 * for a reader that follows it while it grows.
 */
export class FileSink implements DownloadSink {
  written = 0;

  constructor(private readonly fd: number) {}

  async write(chunk: Buffer, offset: number): Promise<void> {
    let done = 0;
    // Short writes happen (a full disk on the way to ENOSPC): loop until all is down.
    while (done < chunk.length) {
      const n = await new Promise<number>((resolve, reject) => fs.write(this.fd, chunk, done, chunk.length - done, offset + done, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (n === 0) throw new Error('the cache file accepted no bytes');
      done += n;
    }
    this.written = offset + chunk.length;
  }

  restart(): void {
    fs.ftruncateSync(this.fd, 0);
    this.written = 0;
  }
}
