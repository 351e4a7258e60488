import type { Output } from '../output';
import { progressEvents } from '../progress-events';

/** Progress of decoding a source without an index (ls and extract), as `decompressing` progress events about ten a second. */
export function decodeProgress(out: Output): (done: number, total: number | null) => void {
  return progressEvents(out, 'browse', 'decompressing');
}
