import * as fs from 'fs';
import * as path from 'path';

/**
 * Pull-based zstd decoding over libzstd's ZSTD_decompressStream (zstd-napi's
 * binding). zstd-napi's own Transform decodes each input chunk to its end
 * before yielding, so 64 KiB of a zero-heavy image (a GiB of zeros packs into
 * a few KiB) becomes a GiB in memory at once. Here each step produces at most
 * one output buffer, and the next step runs only when the consumer asks for
 * it: memory stays bounded whatever the image.
 */
interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

const INPUT_CHUNK = 1 << 20;
const OUTPUT_CHUNK = 1 << 20;

function loadBinding(): { DCtx: new () => DCtx } {
  // The package's main entry hides the binding; load it the way the package does.
  const pkgDir = path.dirname(require.resolve('zstd-napi/package.json'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(pkgDir, 'binding.js')) as { DCtx: new () => DCtx };
}

export async function* decodeZstd(file: string, opts: { signal?: AbortSignal; onInput?: (bytes: number) => void } = {}): AsyncGenerator<Buffer> {
  const { DCtx } = loadBinding();
  const dctx = new DCtx();
  const handle = await fs.promises.open(file, 'r');
  try {
    const input = Buffer.allocUnsafe(INPUT_CHUNK);
    let position = 0;
    let inFrame = false;
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      const { bytesRead } = await handle.read(input, 0, INPUT_CHUNK, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      opts.onInput?.(bytesRead);
      let src = input.subarray(0, bytesRead);
      // Drain this input: keep calling while it consumes input or fills the output.
      for (;;) {
        const dst = Buffer.allocUnsafe(OUTPUT_CHUNK);
        const [hint, produced, consumed] = dctx.decompressStream(dst, src);
        src = src.subarray(consumed);
        // A call that moved nothing says what a *next* frame would need, not
        // whether the current one ended: only calls that made progress count.
        if (consumed > 0 || produced > 0) inFrame = hint !== 0;
        if (produced > 0) yield dst.subarray(0, produced);
        if (src.length === 0 && produced < OUTPUT_CHUNK) break;
      }
    }
    if (inFrame) throw new Error('the file ends in the middle of a compressed frame');
  } finally {
    await handle.close();
  }
}
