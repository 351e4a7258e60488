import * as fs from 'fs';
import { blockDeviceSize } from '../io/block-device';
import { openContent, type SourceInfo } from '../formats/image-source';

/**
 * A size hint (gzip's ISIZE) is four bytes at the end of the file: a
 * truncated or damaged file has garbage there. Before a hint refuses a drive,
 * the content is decoded as far as that drive's size plus one byte: if it
 * gets there, the drive really is too small (and no byte was written); if
 * the content ends or breaks first, the hint was wrong and is dropped (the
 * flash then reports the damage itself). The decoding is bounded by the
 * smallest drive's size, and happens only when a hint would refuse one.
 */
export async function confirmedMinSize(source: SourceInfo, targets: readonly string[], signal?: AbortSignal): Promise<number | null> {
  const hint = source.minSize ?? null;
  if (source.size !== null || hint === null) return hint;
  let smallest: number | null = null;
  for (const t of targets) {
    try {
      if (!fs.statSync(t).isBlockDevice()) continue;
      const size = blockDeviceSize(t);
      if (size > 0 && size < hint && (smallest === null || size < smallest)) smallest = size;
    } catch {
      // Missing or unreadable: target planning reports it.
    }
  }
  if (smallest === null) return hint;
  return (await contentReaches(source, smallest + 1, signal)) ? hint : null;
}

/** True when the decoded content holds at least `bytes` bytes; false when it ends or fails to decode sooner. */
async function contentReaches(source: SourceInfo, bytes: number, signal?: AbortSignal): Promise<boolean> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  signal?.addEventListener('abort', stop, { once: true });
  let seen = 0;
  try {
    for await (const chunk of openContent(source, { signal: controller.signal, transient: true })) {
      seen += chunk.length;
      if (seen >= bytes) return true;
    }
    return false;
  } catch {
    if (signal?.aborted) throw new Error('cancelled');
    return false;
  } finally {
    controller.abort();
    signal?.removeEventListener('abort', stop);
  }
}
