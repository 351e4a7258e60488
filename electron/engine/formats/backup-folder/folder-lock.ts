import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError, errnoOf } from '../../errors';
import { fsyncChecked, writeFully } from '../../io/full-io';
import { LOCK_FILE } from './folder-layout';

/**
 * One writer per backup folder. The lock is a file made with O_EXCL that
 * names its holder; a second process is refused with that name. A lock left
 * by a process that died (killed, power cut) is taken over when the holder
 * is on this machine and no longer runs; one from another machine (a folder
 * on a network share) is only ever removed by a person, since we cannot know
 * whether it still runs.
 */

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** What it is doing: "backup of /dev/sdb". */
  purpose: string;
  /** Set by prune, which deletes pieces: readers (folder-readers.ts) do not start while it holds the lock. */
  excludesReaders?: boolean;
}

export interface FolderLock {
  release(): void;
}

export function describeHolder(h: LockHolder): string {
  return `Imprint process ${h.pid} on ${h.host} (${h.purpose}, since ${h.startedAt})`;
}

export function readHolder(file: string): LockHolder | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0 && typeof v.host === 'string' && typeof v.startedAt === 'string') {
      return { pid: v.pid, host: v.host, startedAt: v.startedAt, purpose: typeof v.purpose === 'string' ? v.purpose : 'unknown work', excludesReaders: v.excludesReaders === true };
    }
  } catch {
    // Unreadable or half-written (its writer died between create and write): judged by its age below.
  }
  return null;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/** A lock file this old without a readable holder was left half-written by a writer that died. */
const HALF_WRITTEN_AGE_MS = 60_000;

/**
 * How long a process refused the lock waits for the holder's name to appear
 * in a lock file it found empty or half-written. The lock is created (O_EXCL)
 * and then written and fsynced: two backups started together (the crash
 * test) saw the other's lock in between on these machines, and the one
 * refused was not told by whom. An fsync on a slow USB stick can take this
 * long.
 */
const HOLDER_SETTLE_MS = 1_000;
const HOLDER_POLL_MS = 20;

/** readHolder, waiting up to HOLDER_SETTLE_MS for a lock file that is still being written (young, unreadable) to name its holder. */
function readSettledHolder(file: string): LockHolder | null {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += HOLDER_POLL_MS) {
    const holder = readHolder(file);
    if (holder || waited >= HOLDER_SETTLE_MS || isStale(file, null)) return holder;
    Atomics.wait(sleeper, 0, 0, HOLDER_POLL_MS);
  }
}

export function isStale(file: string, holder: LockHolder | null): boolean {
  if (holder) return holder.host === os.hostname() && holder.pid !== process.pid && !isRunning(holder.pid);
  try {
    return Date.now() - fs.statSync(file).mtimeMs > HALF_WRITTEN_AGE_MS;
  } catch {
    return true;
  }
}

/**
 * Takes the folder's lock for `purpose`, or throws E_FOLDER_BUSY naming who
 * holds it. `excludesReaders`: the holder deletes what readers read (prune).
 */
export function lockFolder(folder: string, purpose: string, opts: { excludesReaders?: boolean } = {}): FolderLock {
  const file = path.join(folder, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), purpose, ...(opts.excludesReaders ? { excludesReaders: true } : {}) };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw new ImprintError('E_PERMISSION', `Cannot lock the backup folder ${folder}: ${(err as Error).message}`, { cause: err });
      const holder = readSettledHolder(file);
      if (!isStale(file, holder)) {
        const who = holder ? describeHolder(holder) : 'another Imprint process (its lock file is being written)';
        throw new ImprintError('E_FOLDER_BUSY', `The backup folder ${folder} is in use by ${who}. Wait for it to finish. If that process no longer runs, delete ${file}.`);
      }
      // Moved aside first, then checked: of two processes breaking the same stale lock, only one moves it.
      const aside = path.join(folder, `${LOCK_FILE}.stale.${process.pid}`);
      try {
        fs.renameSync(file, aside);
        fs.rmSync(aside, { force: true });
      } catch {
        // Someone else moved it first: try again.
      }
      continue;
    }
    try {
      writeFully(fd, Buffer.from(JSON.stringify(me) + '\n'), 0);
      fsyncChecked(fd);
    } finally {
      fs.closeSync(fd);
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        // Only our own lock: never remove one another process took after ours was broken.
        const now = readHolder(file);
        if (now && now.pid === me.pid && now.host === me.host && now.startedAt === me.startedAt) fs.rmSync(file, { force: true });
      },
    };
  }
  throw new ImprintError('E_FOLDER_BUSY', `The backup folder ${folder} is being locked and unlocked by other processes; try again.`);
}
