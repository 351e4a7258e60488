import * as fs from 'fs';
import * as path from 'path';

/**
 * Pull-based zstd decoding over libzstd's ZSTD_decompressStream (zstd-napi's
 * binding). zstd-napi's own Transform decodes each input chunk to its end
 * before yielding, so 64 KiB of a zero-heavy image (a GiB of zeros packs into
 * a few KiB) becomes a GiB in memory at once. Here the caller hands over the
 * memory to fill (the source worker passes ring slots: no copy, no
 * allocation), and decoding goes only as far as that memory: bounded
 * whatever the image.
 */
interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

const INPUT_CHUNK = 1 << 20;

function loadBinding(): { DCtx: new () => DCtx } {
  // The package's main entry hides the binding; load it the way the package does.
  const pkgDir = path.dirname(require.resolve('zstd-napi/package.json'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(pkgDir, 'binding.js')) as { DCtx: new () => DCtx };
}

export class ZstdReader {
  private readonly dctx: DCtx;
  private handle: fs.promises.FileHandle | null = null;
  private readonly input = Buffer.allocUnsafe(INPUT_CHUNK);
  private src: Buffer = Buffer.alloc(0);
  private position = 0;
  private eof = false;
  private inFrame = false;

  constructor(
    private readonly file: string,
    private readonly opts: { signal?: AbortSignal; onInput?: (bytes: number) => void } = {},
  ) {
    this.dctx = new (loadBinding().DCtx)();
  }

  /**
   * Fills `dst` with decoded bytes; returns how many. Less than `dst.length`
   * only at the end of the content; 0 means the end. A file that stops inside
   * a frame throws.
   */
  async read(dst: Buffer): Promise<number> {
    this.handle ??= await fs.promises.open(this.file, 'r');
    let written = 0;
    while (written < dst.length) {
      if (this.src.length === 0 && !this.eof) {
        if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('aborted');
        // A synchronous read: this runs on the source worker's own thread, and a round
        // trip through libuv's pool per MiB would leave the decoder waiting on it.
        const bytesRead = fs.readSync(this.handle.fd, this.input, 0, INPUT_CHUNK, this.position);
        this.position += bytesRead;
        if (bytesRead === 0) this.eof = true;
        else this.opts.onInput?.(bytesRead);
        this.src = this.input.subarray(0, bytesRead);
      }
      const [hint, produced, consumed] = this.dctx.decompressStream(dst.subarray(written), this.src);
      this.src = this.src.subarray(consumed);
      written += produced;
      // A call that moved nothing says what a *next* frame would need, not
      // whether the current one ended: only calls that made progress count.
      if (consumed > 0 || produced > 0) this.inFrame = hint !== 0;
      else if (this.eof) {
        // Nothing more comes out and the file is over: inside a frame, it was cut short.
        if (this.inFrame) throw new Error('the file ends in the middle of a compressed frame');
        break;
      }
    }
    return written;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
  }
}

/** The decoded content as a stream of fresh 1 MiB buffers (for readers that keep what they get). */
export async function* decodeZstd(file: string, opts: { signal?: AbortSignal; onInput?: (bytes: number) => void } = {}): AsyncGenerator<Buffer> {
  const reader = new ZstdReader(file, opts);
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const n = await reader.read(buf);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    await reader.close();
  }
}
