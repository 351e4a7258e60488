import { ImprintError } from '../errors';

/**
 * A file that a download is still writing while the image's reader, on
 * another thread, already decodes it: the reader waits for the bytes it
 * needs instead of taking the not-yet-written end of the file for the end of
 * the image. Shared memory: [0] state (0 growing, 1 complete, 2 failed),
 * [1] a change counter to wait on; then the bytes available from the start,
 * as a 64-bit count; then the least end any reader waits for (NOBODY when
 * none does). The writer advances in socket-sized pieces (64 KiB to 1 MiB)
 * while a reader waits for a ring slot's worth: waking it on every piece
 * cost a 1 GiB download thousands of futex round trips for nothing, so the
 * writer wakes readers only once the bytes one of them asked for are there.
 */
const STATE = 0;
const TICK = 1;
const GROWING = 0;
const COMPLETE = 1;
const FAILED = 2;
const NOBODY = BigInt(Number.MAX_SAFE_INTEGER);
/** Bytes of shared memory a GrowingFile needs. */
export const GROWING_FILE_BYTES = 24;

export class GrowingFile {
  private readonly flags: Int32Array;
  private readonly head: BigInt64Array;
  /** [0]: the least end a reader waits for. */
  private readonly wanted: BigInt64Array;

  constructor(readonly shared: SharedArrayBuffer = GrowingFile.newShared()) {
    this.flags = new Int32Array(shared, 0, 2);
    this.head = new BigInt64Array(shared, 8, 1);
    this.wanted = new BigInt64Array(shared, 16, 1);
  }

  private static newShared(): SharedArrayBuffer {
    const shared = new SharedArrayBuffer(GROWING_FILE_BYTES);
    new BigInt64Array(shared, 16, 1)[0] = NOBODY;
    return shared;
  }

  /** Bytes from the start of the file that are written. */
  get available(): number {
    return Number(Atomics.load(this.head, 0));
  }

  get state(): 'growing' | 'complete' | 'failed' {
    const s = Atomics.load(this.flags, STATE);
    return s === COMPLETE ? 'complete' : s === FAILED ? 'failed' : 'growing';
  }

  private wake(): void {
    Atomics.add(this.flags, TICK, 1);
    Atomics.notify(this.flags, TICK);
  }

  /** The writer: bytes up to `end` are in the file. Never goes back. */
  advance(end: number): void {
    const at = BigInt(end);
    if (end > this.available) Atomics.store(this.head, 0, at);
    // (Sequentially consistent: a reader that registered after this load sees the new head itself.)
    if (at < Atomics.load(this.wanted, 0)) return;
    Atomics.store(this.wanted, 0, NOBODY);
    this.wake();
  }

  /**
   * A reader is about to wait for bytes up to `end`: lowers the wanted end
   * to it. Called after reading the change counter and before reading
   * `available`, so a wake-up between the two is never lost.
   */
  private want(end: number): void {
    const at = BigInt(Math.min(end, Number.MAX_SAFE_INTEGER));
    for (let i = 0; i < 64; i++) {
      const cur = Atomics.load(this.wanted, 0);
      if (cur <= at || Atomics.compareExchange(this.wanted, 0, cur, at) === cur) return;
    }
    // Readers racing this long: ask to be woken on every piece rather than spin on.
    Atomics.store(this.wanted, 0, 0n);
  }

  complete(): void {
    Atomics.store(this.flags, STATE, COMPLETE);
    this.wake();
  }

  /** The download failed or was cancelled: readers stop waiting and fail. */
  fail(): void {
    Atomics.compareExchange(this.flags, STATE, GROWING, FAILED);
    this.wake();
  }

  /**
   * The reader: blocks (this thread only) until bytes up to `end` are there
   * or the file is complete; throws when the download failed. `onWait` runs
   * about once a second while it waits (a watchdog's heartbeat).
   */
  waitFor(end: number, onWait?: () => void): void {
    for (;;) {
      const tick = Atomics.load(this.flags, TICK);
      this.want(end);
      const s = Atomics.load(this.flags, STATE);
      if (s === FAILED) throw new ImprintError('E_DOWNLOAD_FAILED', 'The download stopped before the image was complete.');
      if (s === COMPLETE || this.available >= end) return;
      if (Atomics.wait(this.flags, TICK, tick, 1000) === 'timed-out') onWait?.();
    }
  }

  /**
   * The reader on a thread that must not block (its event loop feeds a
   * decoder program, or it is the thread running the download): resolves
   * once bytes up to `end` are there or the file is complete; rejects when
   * the download failed.
   */
  async waitForAsync(end: number): Promise<void> {
    // ES2024's Atomics.waitAsync (Node 16 and later); the project's lib is ES2023.
    const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
    for (;;) {
      const tick = Atomics.load(this.flags, TICK);
      this.want(end);
      const s = Atomics.load(this.flags, STATE);
      if (s === FAILED) throw new ImprintError('E_DOWNLOAD_FAILED', 'The download stopped before the image was complete.');
      if (s === COMPLETE || this.available >= end) return;
      const r = waitAsync(this.flags, TICK, tick, 1000);
      if (r.async) await r.value;
    }
  }

  /** The reader: blocks until the whole file is there (before the end of the image is declared). */
  waitComplete(onWait?: () => void): void {
    this.waitFor(Number.MAX_SAFE_INTEGER, onWait);
  }
}

/** Growing files this thread reads, by path: the readers (formats/) look their file up here. */
const following = new Map<string, { file: GrowingFile; onWait?: () => void }>();

export function followGrowingFile(path: string, shared: SharedArrayBuffer, onWait?: () => void): void {
  following.set(path, { file: new GrowingFile(shared), onWait });
}

/** The growing file this thread follows at `path`, or null (an ordinary file). */
export function followedFile(path: string): GrowingFile | null {
  return following.get(path)?.file ?? null;
}

/** Waits, when `path` is a file still being downloaded, until its bytes up to `end` are there. A no-op otherwise. */
export function waitForBytes(path: string, end: number): void {
  const f = following.get(path);
  f?.file.waitFor(end, f.onWait);
}

export function waitForWholeFile(path: string): void {
  const f = following.get(path);
  f?.file.waitComplete(f.onWait);
}
