import * as path from 'path';
import { Worker } from 'worker_threads';

/**
 * Starts one of the engine's worker threads with typed messages. Worker files
 * sit in ../workers beside this file's compiled output; a packaged app keeps
 * them unpacked from asar (electron-builder.yml says so).
 */
export interface TypedWorker<In, Out> {
  post(msg: In): void;
  onMessage(fn: (msg: Out) => void): void;
  /** Called once if the thread dies without reporting (a bug, or out of memory). */
  onCrash(fn: (err: Error) => void): void;
  /** Resolves true when a message matching `pred` arrives, false after `timeoutMs`. */
  waitFor(pred: (msg: Out) => boolean, timeoutMs: number): Promise<boolean>;
  terminate(): Promise<void>;
}

/** Threads that did not stop when told to: stuck in the kernel on a drive that does not answer. */
const stuck = new Set<Worker>();

/**
 * How many engine threads are still stuck in a system call on a hung drive.
 * No signal frees such a thread (FIELD-NOTES: D state), and the process
 * cannot end before it does; a command line says so after its report.
 */
export function stuckThreads(): number {
  return stuck.size;
}

export function workerFile(name: string): string {
  // The whole path: inside a packaged app the workers run from app.asar.unpacked (electron-builder.yml).
  return path.join(__dirname, 'workers', `${name}.js`).replace(/\.asar([\\/])/, '.asar.unpacked$1');
}

export function spawnWorker<In, Out>(name: 'source-worker' | 'hasher-worker' | 'writer-worker' | 'verify-worker' | 'capacity-check-worker', workerData: unknown): TypedWorker<In, Out> {
  const worker = new Worker(workerFile(name), { workerData });
  let exited = false;
  return {
    post: (msg) => {
      if (!exited) worker.postMessage(msg);
    },
    onMessage: (fn) => worker.on('message', fn),
    onCrash: (fn) => {
      worker.on('error', (err) => fn(err));
      worker.on('exit', (code) => {
        const wasStopped = exited;
        exited = true;
        if (code !== 0 && !wasStopped) fn(new Error(`${name} stopped with exit code ${code}`));
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
    terminate: async () => {
      exited = true;
      // A thread blocked in a syscall on a hung device cannot be stopped; do not wait for it forever.
      worker.unref();
      const stopped = await Promise.race([worker.terminate().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
      if (!stopped) {
        stuck.add(worker);
        worker.once('exit', () => stuck.delete(worker));
      }
    },
  };
}
