import * as path from 'path';
import { Worker, parentPort, workerData } from 'worker_threads';

/**
 * The one way the engine starts a thread, and the one way a thread reads what
 * it was started with. It sits at the engine's lowest level because decoders
 * (formats/) start threads too; the entry files themselves all live in
 * workers/.
 *
 * A worker kind (`workerKind`) names its entry file and, as types, the
 * messages it takes and sends and the data it starts with: spawning one by
 * its kind fixes all three at compile time.
 *
 * Cancellation is the caller's AbortSignal. When it fires the host raises a
 * flag the thread shares (`workerStart().cancelled()`: for loops inside
 * synchronous native calls, and sleeps with Atomics.wait), and posts the
 * kind's cancel message, if it has one (for threads that wait on messages).
 */
export interface WorkerKind<In, Out, Data> {
  /** The entry file in workers/, without `.js`. */
  readonly name: string;
  /** Posted to the thread when the caller's signal fires. */
  readonly cancelMessage?: In;
  /** Carries the types only; never set. */
  readonly types?: { in: In; out: Out; data: Data };
}

export function workerKind<In, Out, Data>(name: string, opts: { cancelMessage?: In } = {}): WorkerKind<In, Out, Data> {
  return opts.cancelMessage === undefined ? { name } : { name, cancelMessage: opts.cancelMessage };
}

/** What the host hands a thread: the caller's data and the shared cancel flag (one Int32, 1 = cancelled). */
interface WorkerStart<Data> {
  data: Data;
  cancel: SharedArrayBuffer;
}

export interface TypedWorker<In, Out> {
  post(msg: In, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (msg: Out) => void): void;
  /** An exception escaped the thread. */
  onError(fn: (err: Error) => void): void;
  /** The thread ended, with its exit code; `terminated` when terminate() ended it. */
  onExit(fn: (code: number, terminated: boolean) => void): void;
  /** Called once if the thread dies without reporting (a bug, or out of memory): an error, or an exit code other than 0 that terminate() did not cause. */
  onCrash(fn: (err: Error) => void): void;
  /** Resolves true when a message matching `pred` arrives, false after `timeoutMs` or when the thread ends. */
  waitFor(pred: (msg: Out) => boolean, timeoutMs: number): Promise<boolean>;
  /** Whether the thread keeps the process alive (it does by default). */
  ref(): void;
  unref(): void;
  /**
   * Ends the thread. Waits at most TERMINATE_WAIT_MS: a thread blocked in a
   * system call on a hung device cannot be stopped, and is then counted by
   * stuckThreads() until it ends by itself.
   */
  terminate(): Promise<void>;
}

export interface SpawnOptions {
  signal?: AbortSignal;
}

/**
 * How long terminate() waits for a thread to end. Owner: this host. 2 s: a
 * thread in JavaScript ends within milliseconds; one that has not by then is
 * inside a system call that may never return.
 */
const TERMINATE_WAIT_MS = 2000;

/** Threads that did not stop when told to: stuck in the kernel on a drive that does not answer. */
const stuck = new Set<Worker>();

/**
 * How many engine threads are still stuck in a system call on a hung drive.
 * No signal frees such a thread (docs/block-io.md: D state), and the process
 * cannot end before it does; a command line says so after its report.
 */
export function stuckThreads(): number {
  return stuck.size;
}

/** The entry file of a worker kind. Inside a packaged app threads run from app.asar.unpacked (electron-builder.yml): Node's loader in a worker cannot read an asar archive. */
export function workerFile(kind: WorkerKind<unknown, unknown, unknown>): string {
  return path.join(__dirname, 'workers', `${kind.name}.js`).replace(/\.asar([\\/])/, '.asar.unpacked$1');
}

/** Starts a thread of `kind` with `data`. */
export function spawnWorker<In, Out, Data>(kind: WorkerKind<In, Out, Data>, data: Data, opts: SpawnOptions = {}): TypedWorker<In, Out> {
  const cancel = new SharedArrayBuffer(4);
  const start: WorkerStart<Data> = { data, cancel };
  const worker = new Worker(workerFile(kind as WorkerKind<unknown, unknown, unknown>), { workerData: start });
  let exited = false;
  let terminated = false;
  const { signal } = opts;
  const onAbort = (): void => {
    const flag = new Int32Array(cancel);
    Atomics.store(flag, 0, 1);
    // Wakes a thread sleeping in Atomics.wait on the flag (a rate-limited rescue).
    Atomics.notify(flag, 0);
    if (kind.cancelMessage !== undefined && !exited) worker.postMessage(kind.cancelMessage);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  worker.once('exit', () => {
    exited = true;
    signal?.removeEventListener('abort', onAbort);
  });
  return {
    post: (msg, transfer) => {
      if (!exited) worker.postMessage(msg, transfer ?? []);
    },
    onMessage: (fn) => worker.on('message', fn),
    onError: (fn) => worker.on('error', fn),
    onExit: (fn) => worker.on('exit', (code) => fn(code, terminated)),
    onCrash: (fn) => {
      worker.on('error', (err) => fn(err));
      worker.on('exit', (code) => {
        if (code !== 0 && !terminated) fn(new Error(`${kind.name} stopped with exit code ${code}`));
      });
    },
    waitFor: (pred, timeoutMs) =>
      new Promise<boolean>((resolve) => {
        if (exited) return resolve(false);
        const timer = setTimeout(() => done(false), timeoutMs);
        const listener = (msg: Out): void => {
          if (pred(msg)) done(true);
        };
        const onExit = (): void => done(false);
        function done(value: boolean): void {
          clearTimeout(timer);
          worker.off('message', listener);
          worker.off('exit', onExit);
          resolve(value);
        }
        worker.on('message', listener);
        worker.on('exit', onExit);
      }),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    terminate: async () => {
      terminated = true;
      if (exited) return;
      exited = true;
      worker.unref();
      const stopped = await Promise.race([worker.terminate().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), TERMINATE_WAIT_MS).unref())]);
      if (!stopped) {
        stuck.add(worker);
        worker.once('exit', () => stuck.delete(worker));
      }
    },
  };
}

/**
 * Inside a thread: what it was started with, and its side of the caller's
 * AbortSignal. Throws when the file is not running as a worker thread.
 */
export function workerStart<Data>(): { data: Data; cancelFlag: Int32Array; cancelled(): boolean } {
  if (!parentPort) throw new Error('this file runs as a worker thread');
  const start = workerData as WorkerStart<Data>;
  const cancelFlag = new Int32Array(start.cancel);
  return { data: start.data, cancelFlag, cancelled: () => Atomics.load(cancelFlag, 0) !== 0 };
}
