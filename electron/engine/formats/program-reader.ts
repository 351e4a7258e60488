import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fromErrorInfo } from '../errors';
import { followedFile } from '../io/growing-file';
import { spawnWorker } from '../worker-host';
import { GROWING_FEED_WORKER } from './growing-feed-protocol';
import { programComplaint } from './native-decoder';

/**
 * A decoder program (xz, lbzip2) whose output Imprint reads straight into the
 * ring's slots. Its stdout is a named pipe opened here as a plain blocking
 * descriptor, read with readSync: no Buffer per 64 KiB pipe read (at 400 MB/s
 * those were 16,000 garbage Buffers per GiB, which V8 frees only once 64 MiB
 * of them pile up: +57 MiB of RSS on the bench's xz image) and no copy out of
 * them. The reading thread is a worker of its own, so a blocking read stalls
 * nothing else. Where mkfifo is missing, open() returns null and the caller
 * uses decodeWithProgram (native-decoder.ts). A file still downloading
 * reaches the program through a second pipe, fed by a thread of its own
 * (workers/growing-feed-worker.ts) as the bytes arrive.
 */
export class ProgramReader {
  private ended = false;
  private readonly exited: Promise<number | null>;
  private stderr = '';
  private failure: Error | null = null;
  private inputReported = 0;

  private constructor(
    private readonly child: ChildProcess,
    private fd: number,
    /** The image, opened here and given to the program as its stdin: its read position is the program's. -1 when fed. */
    private readonly inputFd: number,
    private readonly onInput?: (bytes: number) => void,
    /** A downloading file's feeder: bytes it wrote to the program, and the end it stops (abort) at. */
    private readonly feeder: { fed: BigInt64Array; stop: AbortController; failure: () => Error | null } | null = null,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 2000) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => resolve(code));
      // A program that could not start never closes: its error is the end.
      child.on('error', (err) => {
        this.failure ??= err;
        resolve(null);
      });
    });
  }

  /** Starts `program args...` on `file`; null when no named pipe can be made here. */
  static open(program: string, args: readonly string[], file: string, opts: { onInput?: (bytes: number) => void } = {}): ProgramReader | null {
    if (process.platform === 'win32') return null;
    const growing = followedFile(file);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-decoder-'));
    try {
      const pipe = (name: string): { read: number; write: number } | null => {
        const fifo = path.join(dir, name);
        if (spawnSync('mkfifo', ['-m', '600', fifo]).status !== 0) return null;
        // Opening a FIFO blocks until the other end is open; a non-blocking read end lets the
        // write end open at once, and then a blocking read end opens at once too.
        const probe = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        const write = fs.openSync(fifo, fs.constants.O_WRONLY);
        const read = fs.openSync(fifo, fs.constants.O_RDONLY);
        fs.closeSync(probe);
        return { read, write };
      };
      const out = pipe('out');
      if (!out) return null;
      // The program reads the file itself (this thread blocks in its reads of the output
      // pipe, so it could not also feed the program's stdin), or, while it downloads, a pipe.
      const inPipe = growing ? pipe('in') : null;
      if (growing && !inPipe) {
        fs.closeSync(out.read);
        fs.closeSync(out.write);
        return null;
      }
      let input = -1;
      let child: ChildProcess;
      try {
        input = inPipe ? inPipe.read : fs.openSync(file, 'r');
        child = spawn(program, [...args], { stdio: [input, out.write, 'pipe'] });
      } catch (err) {
        fs.closeSync(out.read);
        if (input >= 0) fs.closeSync(input);
        if (inPipe) fs.closeSync(inPipe.write);
        throw err;
      } finally {
        // The child holds its own copy: once it exits, reads see the end of the data.
        fs.closeSync(out.write);
      }
      if (!inPipe || !growing) return new ProgramReader(child, out.read, input, opts.onInput);
      // The child has its own copy of the pipe's read end; the thread opens a write end of its own.
      fs.closeSync(inPipe.read);
      const fed = new SharedArrayBuffer(8);
      const opened = new Int32Array(new SharedArrayBuffer(4));
      const stop = new AbortController();
      let failure: Error | null = null;
      const worker = spawnWorker(GROWING_FEED_WORKER, { path: file, growing: growing.shared, pipe: path.join(dir, 'in'), opened: opened.buffer as SharedArrayBuffer, fed }, { signal: stop.signal });
      worker.onMessage((msg) => {
        if (msg.type === 'error' && !stop.signal.aborted) failure = fromErrorInfo(msg.error);
      });
      worker.onCrash((err) => (failure ??= err));
      // Owner: this open. 10 s: a thread starts in tens of ms; one that never opens the pipe
      // leaves the program an empty input, which fails the decode (with the thread's crash).
      Atomics.wait(opened, 0, 0, 10_000);
      fs.closeSync(inPipe.write);
      return new ProgramReader(child, out.read, -1, opts.onInput, { fed: new BigInt64Array(fed), stop, failure: () => failure });
    } finally {
      // The descriptors stay valid; no name is left behind.
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * Fills `dst` with decoded bytes; fewer only at the end of the data. At the
   * end, a program that failed (truncated or damaged input) throws its own
   * words (native-decoder.ts: programComplaint).
   */
  async read(dst: Buffer): Promise<number> {
    let filled = 0;
    while (filled < dst.length && !this.ended) {
      const n = fs.readSync(this.fd, dst, filled, dst.length - filled, null);
      if (n === 0) this.ended = true;
      filled += n;
    }
    this.reportInput();
    if (this.ended) await this.checkExit();
    return filled;
  }

  /** Compressed bytes the program has read so far, from the shared file position (Linux's fdinfo). */
  private reportInput(): void {
    if (!this.onInput) return;
    if (this.feeder) {
      const pos = Number(Atomics.load(this.feeder.fed, 0));
      if (pos > this.inputReported) this.onInput(pos - this.inputReported);
      this.inputReported = Math.max(pos, this.inputReported);
      return;
    }
    try {
      const pos = Number(/^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${this.inputFd}`, 'utf8'))?.[1] ?? NaN);
      if (pos > this.inputReported) {
        this.onInput(pos - this.inputReported);
        this.inputReported = pos;
      }
    } catch {
      // No /proc (macOS): progress goes by decoded bytes alone.
    }
  }

  private async checkExit(): Promise<void> {
    const code = await this.exited;
    // A download that failed cut the program's input short: its failure is the reason, not the program's complaint.
    const fed = this.feeder?.failure();
    if (fed) throw fed;
    if (this.failure) throw this.failure;
    if (code !== 0) throw new Error(programComplaint(this.stderr, code));
  }

  /** Stops the program (if still running) and closes the pipe. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
    this.feeder?.stop.abort();
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      if (this.inputFd >= 0) fs.closeSync(this.inputFd);
    }
    this.fd = -1;
    await this.exited;
  }
}
