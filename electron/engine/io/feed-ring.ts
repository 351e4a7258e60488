import { allocAlignedShared } from './aligned-buffer';

/**
 * A raw image's bytes handed from its download straight to the flash's ring,
 * in shared memory: the socket reads into the very memory the drives are
 * written from (net/direct-get.ts lends it), so the bytes are neither
 * written to the cache file and read back through the page cache (about
 * 0.8 CPU-s per GiB) nor copied between threads (a copy of shared memory in
 * JavaScript runs at 2-5 GB/s here, another 0.3-0.5 CPU-s per GiB).
 *
 * The memory is the flash pipeline's ring (pipelines/write-pipeline.ts
 * adopts it): the stream's byte at offset `o` lives at `o % size`, so chunk
 * `k` of the image fills ring slot `k % slots`, and memory and file offsets
 * share their alignment (the cache file is written from here with O_DIRECT,
 * net/feed-sink.ts). The download writes only below `allowed`: the image's
 * reader (workers/source-worker.ts) raises it over slots the drives are done
 * with. How many bytes have arrived, and whether the download completed or
 * failed, is the download's GrowingFile (growing-file.ts). The bytes before
 * `start` were written to the file before the feed began, and are read from
 * there.
 */
export interface FeedSpec {
  /** The bytes (page-aligned memory, the ring's). */
  data: SharedArrayBuffer;
  /** [0] a change counter the download waits on; then `allowed`, a 64-bit offset. */
  control: SharedArrayBuffer;
  /** The offset of the stream's first byte held here. */
  start: number;
  /** The ring's slot size: chunk `k` is `[k * chunk, (k + 1) * chunk)`. */
  chunk: number;
}

const TICK = 0;
const CONTROL_BYTES = 16;

export class FeedRing {
  readonly size: number;
  readonly bytes: Buffer;
  private readonly flags: Int32Array;
  private readonly limit: BigInt64Array;

  constructor(readonly spec: FeedSpec) {
    this.size = spec.data.byteLength;
    this.bytes = Buffer.from(spec.data);
    this.flags = new Int32Array(spec.control, 0, 1);
    this.limit = new BigInt64Array(spec.control, 8, 1);
  }

  /**
   * A feed of `size` bytes (whole chunks) whose first byte is the stream's
   * `start`. Every slot is free before the flash starts, and the reader
   * fills slot `k % slots` with chunk `k`, the chunks before `start` too
   * (from the file). So the download may at once fill the ring's first
   * round (the chunks below `size`: no chunk before them shares their
   * slots); a feed starting past it waits until the reader frees slots.
   */
  static create(size: number, chunk: number, start: number): FeedRing {
    if (size % chunk !== 0) throw new Error('a feed holds whole chunks');
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    new BigInt64Array(control, 8, 1)[0] = BigInt(start < size ? size : start);
    return new FeedRing({ data: allocAlignedShared(size), control, start, chunk });
  }

  get start(): number {
    return this.spec.start;
  }

  /** The download may write the stream's bytes below this offset. */
  get allowed(): number {
    return Number(Atomics.load(this.limit, 0));
  }

  /** The reader: bytes below `end` may be written (their slots are free). Never goes back. */
  allow(end: number): void {
    if (end <= this.allowed) return;
    Atomics.store(this.limit, 0, BigInt(end));
    this.wake();
  }

  /** The change counter (for the download's Atomics.waitAsync). */
  get tick(): number {
    return Atomics.load(this.flags, TICK);
  }

  /** Wakes the download (room was made). */
  wake(): void {
    Atomics.add(this.flags, TICK, 1);
    Atomics.notify(this.flags, TICK);
  }

  /** The download waits, without blocking its thread, until the counter moves from `tick` or `ms` pass. */
  async waitChange(tick: number, ms: number): Promise<void> {
    // ES2024's Atomics.waitAsync (Node 16 and later); the project's lib is ES2023.
    const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
    const r = waitAsync(this.flags, TICK, tick, ms);
    if (!r.async) return;
    // A pending waitAsync does not keep Node's event loop alive; the timer does.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([r.value, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** The memory of `[offset, offset + length)`, clipped at the ring's end. */
  view(offset: number, length: number): Buffer {
    const at = offset % this.size;
    return this.bytes.subarray(at, Math.min(this.size, at + Math.max(0, length)));
  }

  /** Whether `chunk` is the memory of the stream at `offset` (a socket read that landed in place). */
  holds(chunk: Buffer, offset: number): boolean {
    return chunk.buffer === this.spec.data && chunk.byteOffset === offset % this.size && chunk.byteOffset + chunk.length <= this.size;
  }

  /** Copies `chunk` in at `offset` (bytes that did not land in place: a proxy's response). */
  put(chunk: Buffer, offset: number): void {
    let done = 0;
    while (done < chunk.length) {
      const at = (offset + done) % this.size;
      const n = Math.min(chunk.length - done, this.size - at);
      chunk.copy(this.bytes, at, done, done + n);
      done += n;
    }
  }
}
