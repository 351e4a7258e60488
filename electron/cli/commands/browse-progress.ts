import type { Output } from '../output';

/** Progress of decoding a source without an index (ls and extract), as `decompressing` progress events about ten a second. */
export function decodeProgress(out: Output): (done: number, total: number | null) => void {
  let last = 0;
  const started = Date.now();
  return (done, total) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    out.event({ type: 'progress', jobId: 'browse', phase: 'decompressing', bytesDone: done, totalBytes: total, bytesPerSecond: rate, etaSeconds: total ? Math.max(0, (total - done) / rate) : null, targets: [] });
  };
}
