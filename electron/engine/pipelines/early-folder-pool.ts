import type { BackupStorage } from '../../../shared/backup-metadata';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';
import { chunkMemoryBytes, startFolderPool, type EarlyChunkPool } from './stored-chunks';

/**
 * A folder restore's decoding threads, started as soon as the generation's
 * index is read, so that they start up while the restore checks its targets
 * (lsblk and the like: 100-150 ms on the bench) instead of after. Starting a
 * thread and loading its modules took 100-300 ms on the bench's busy 2
 * cores, all of it before the first chunk could be written: about a tenth of
 * a 2.5 s restore of 760 MiB. Nothing is read from the folder until the
 * restore runs (and holds the folder for reading).
 *
 * The threads do not keep the process alive until claimed (a CLI that is
 * told no at its confirmation exits at once), and end by themselves when
 * nobody claims them within UNCLAIMED_MS (a prepared restore the app never
 * runs); the restore then starts its own.
 */

/** How long started threads wait for their restore. Owner: this file. A CLI without --yes asks first; the app runs a prepared job at once. */
const UNCLAIMED_MS = 60_000;

export interface EarlyFolderPool extends EarlyChunkPool {
  /** Ends the threads if they were not claimed (a restore that will not run); claiming is then refused. */
  release(): void;
}

/** Starts the decoding threads of `index` (a plain folder's generation with a storage plan); null when there is nothing to start. */
export function startEarlyFolderPool(folder: string, index: GenerationIndex): EarlyFolderPool | null {
  const storage = index.metadata.storage as BackupStorage | undefined;
  if (!storage || !Number.isSafeInteger(storage.chunkSize) || storage.chunkSize <= 0) return null;
  const bytes = chunkMemoryBytes(storage.chunkSize);
  const pool = startFolderPool(folder, index, bytes);
  pool.pool.setRef(false);
  let started: typeof pool | null = pool;
  const release = (): void => {
    clearTimeout(timer);
    const s = started;
    started = null;
    // Threads that never ran a range end in milliseconds; nothing waits for them.
    if (s) void s.pool.close().catch(() => undefined);
  };
  const timer = setTimeout(release, UNCLAIMED_MS);
  timer.unref();
  return {
    claim(wanted) {
      const s = started;
      if (!s || wanted !== bytes) {
        release();
        return null;
      }
      clearTimeout(timer);
      started = null;
      s.pool.setRef(true);
      return s;
    },
    release,
  };
}
