import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { followedFile } from '../io/growing-file';
import { programComplaint } from './native-decoder';

/**
 * A decoder program (xz, lbzip2) whose output Imprint reads straight into the
 * ring's slots. Its stdout is a named pipe opened here as a plain blocking
 * descriptor, read with readSync: no Buffer per 64 KiB pipe read (at 400 MB/s
 * those were 16,000 garbage Buffers per GiB, which V8 frees only once 64 MiB
 * of them pile up: +57 MiB of RSS on the bench's xz image) and no copy out of
 * them. The reading thread is a worker of its own, so a blocking read stalls
 * nothing else. Where mkfifo is missing, open() returns null and the caller
 * uses decodeWithProgram (native-decoder.ts), as for a file still downloading.
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
    /** The image, opened here and given to the program as its stdin: its read position is the program's. */
    private readonly inputFd: number,
    private readonly onInput?: (bytes: number) => void,
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
    // A file still downloading: the program would take its not-yet-written end for the end of the
    // data, and this thread, blocked in its reads, could not feed it; decodeWithProgram can.
    if (followedFile(file)) return null;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-decoder-'));
    try {
      const fifo = path.join(dir, 'out');
      if (spawnSync('mkfifo', ['-m', '600', fifo]).status !== 0) return null;
      // Opening a FIFO blocks until the other end is open; a non-blocking read end lets the
      // write end open at once, and then a blocking read end opens at once too.
      const probe = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const write = fs.openSync(fifo, fs.constants.O_WRONLY);
      const read = fs.openSync(fifo, fs.constants.O_RDONLY);
      fs.closeSync(probe);
      // The program reads the file itself: this thread blocks in its reads of the
      // pipe, so it could not also feed the program's stdin.
      let input = -1;
      let child: ChildProcess;
      try {
        input = fs.openSync(file, 'r');
        child = spawn(program, [...args], { stdio: [input, write, 'pipe'] });
      } catch (err) {
        fs.closeSync(read);
        if (input >= 0) fs.closeSync(input);
        throw err;
      } finally {
        // The child holds its own copy: once it exits, reads see the end of the data.
        fs.closeSync(write);
      }
      return new ProgramReader(child, read, input, opts.onInput);
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
    if (this.failure) throw this.failure;
    if (code !== 0) throw new Error(programComplaint(this.stderr, code));
  }

  /** Stops the program (if still running) and closes the pipe. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      fs.closeSync(this.inputFd);
    }
    this.fd = -1;
    await this.exited;
  }
}
