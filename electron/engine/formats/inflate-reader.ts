import * as fs from 'fs';
import { crc32 } from '../io/crc32';
import { waitForBytes } from '../io/growing-file';
import * as zlib from 'zlib';

/**
 * Pull-based inflate for .gz files and deflated zip entries, decoding
 * straight into the caller's memory (the source worker passes ring slots),
 * as ZstdReader does for zstd.
 *
 * Why not zlib's Transform stream: it hands out each 1 MiB of output in a
 * freshly allocated Buffer, so a 1 GiB image is a GiB of new pages faulted in
 * and freed again, then copied into the ring. Measured here on the bench's
 * 1 GiB OS image (.gz of 184 MiB): the stream takes 1.33 s (0.48 s of it in
 * the kernel, 48,000 page faults); inflating into reused memory, 0.65 s.
 *
 * Node has no public call that inflates into a given buffer. Its own
 * synchronous path (processChunkSync in lib/zlib.js, unchanged since Node 10
 * and the same in the Node that Electron ships) calls the native handle's
 * writeSync(flush, in, inOff, inLen, out, outOff, outLen) and reads the
 * bytes left of each from the stream's _writeState; this does the same.
 * Where those are missing, `canInflateInPlace()` says so and the caller
 * uses the stream instead (image-source.ts).
 */

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}
interface ZlibInternals {
  _handle?: ZlibHandle;
  _writeState?: Uint32Array;
}

export type InflateMode = 'gzip' | 'raw';

const INPUT_CHUNK = 1 << 20;

function makeStream(mode: InflateMode): zlib.Gunzip | zlib.InflateRaw {
  return mode === 'gzip' ? zlib.createGunzip() : zlib.createInflateRaw();
}

function internals(stream: zlib.Gunzip | zlib.InflateRaw): { handle: ZlibHandle; state: Uint32Array } | null {
  const { _handle: handle, _writeState: state } = stream as unknown as ZlibInternals;
  if (!handle || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2) return null;
  return { handle, state };
}

let available: boolean | undefined;

/** True when this Node's zlib can inflate into a given buffer (its internals are as described above). */
export function canInflateInPlace(): boolean {
  if (available !== undefined) return available;
  // Checked on real data, not only by shape: a tiny gzip must come back whole.
  const sample = Buffer.from('imprint inflate check '.repeat(64));
  const stream = makeStream('gzip');
  try {
    const parts = internals(stream);
    if (!parts) return (available = false);
    const input = zlib.gzipSync(sample);
    const out = Buffer.alloc(sample.length + 16);
    let failed = false;
    parts.handle.onerror = () => (failed = true);
    parts.handle.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
    const produced = out.length - (parts.state[0] ?? out.length);
    available = !failed && parts.state[1] === 0 && produced === sample.length && out.subarray(0, produced).equals(sample);
  } catch {
    available = false;
  } finally {
    stream.close();
  }
  return available;
}

export interface InflateReaderOptions {
  mode: InflateMode;
  /** Where the compressed data starts in the file (a zip entry's data offset), and how long it is; the whole file by default. */
  start?: number;
  length?: number;
  /** A zip entry's recorded size and CRC-32: checked when the data ends. */
  expect?: { size: number; crc32: number };
  signal?: AbortSignal;
  onInput?: (bytes: number) => void;
}

export class InflateReader {
  private readonly stream: zlib.Gunzip | zlib.InflateRaw;
  private readonly handle: ZlibHandle;
  private readonly state: Uint32Array;
  private fd: number | null = null;
  private readonly input = Buffer.allocUnsafe(INPUT_CHUNK);
  private inOff = 0;
  private inLen = 0;
  private position: number;
  private readonly end: number;
  private eof = false;
  private done = false;
  private error: Error | null = null;
  private total = 0;
  private crc = 0;

  constructor(
    private readonly file: string,
    private readonly opts: InflateReaderOptions,
  ) {
    this.stream = makeStream(opts.mode);
    const parts = internals(this.stream);
    if (!parts) throw new Error('this Node cannot inflate into a given buffer (check canInflateInPlace() first)');
    this.handle = parts.handle;
    this.state = parts.state;
    // zlib reports bad data through this callback, synchronously, during writeSync.
    this.handle.onerror = (message) => (this.error ??= new Error(message));
    this.position = opts.start ?? 0;
    this.end = opts.length !== undefined ? this.position + opts.length : Infinity;
  }

  /**
   * Fills `dst` with decoded bytes; returns how many. Less than `dst.length`
   * only at the end of the content; 0 means the end. Input that stops inside
   * the compressed data, or is damaged, throws zlib's words for it
   * ("unexpected end of file", "invalid block type").
   */
  async read(dst: Buffer): Promise<number> {
    this.fd ??= fs.openSync(this.file, 'r');
    let written = 0;
    while (written < dst.length && !this.done) {
      if (this.inLen === 0 && !this.eof) this.fill();
      // With all input given and none left, Z_FINISH makes zlib say whether the data ended where it should.
      const flush = this.eof && this.inLen === 0 ? zlib.constants.Z_FINISH : zlib.constants.Z_NO_FLUSH;
      const space = dst.length - written;
      this.handle.writeSync(flush, this.input, this.inOff, this.inLen, dst, written, space);
      if (this.error) throw this.error;
      const outLeft = this.state[0] as number;
      const inLeft = this.state[1] as number;
      const produced = space - outLeft;
      this.inOff += this.inLen - inLeft;
      this.inLen = inLeft;
      if (produced > 0) this.counted(dst.subarray(written, written + produced));
      written += produced;
      // Room left in the output means zlib wanted no more: at Z_FINISH, or with input
      // still unread (the stream ended; bytes after it are ignored, as zlib's stream does).
      if (outLeft > 0 && (flush === zlib.constants.Z_FINISH || inLeft > 0)) this.finish();
    }
    return written;
  }

  private fill(): void {
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('aborted');
    const want = Math.min(INPUT_CHUNK, this.end - this.position);
    // Synchronous, as ZstdReader's: this runs on the source worker's own thread.
    if (want > 0) waitForBytes(this.file, this.position + want);
    const n = want > 0 ? fs.readSync(this.fd as number, this.input, 0, want, this.position) : 0;
    this.position += n;
    this.inOff = 0;
    this.inLen = n;
    if (n === 0) this.eof = true;
    else this.opts.onInput?.(n);
  }

  private counted(out: Buffer): void {
    this.total += out.length;
    if (this.opts.expect) this.crc = crc32(out, this.crc);
  }

  private finish(): void {
    this.done = true;
    const expect = this.opts.expect;
    if (!expect) return;
    if (this.total !== expect.size) throw new Error(`expected ${expect.size} bytes, got ${this.total}`);
    if (this.crc >>> 0 !== expect.crc32 >>> 0) throw new Error('CRC-32 of the extracted image does not match the archive');
  }

  async close(): Promise<void> {
    this.stream.close();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
