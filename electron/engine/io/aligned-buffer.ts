/**
 * Page-aligned memory for O_DIRECT I/O.
 *
 * O_DIRECT needs the buffer's address aligned to the logical block size, and
 * Node has no aligned allocation. WebAssembly memory is reserved by V8 with
 * page granularity, so its base is page-aligned by construction (see
 * docs/block-io.md). Making it `shared` gives a SharedArrayBuffer that
 * worker threads see without copying: the reader fills a slot, the writers
 * write straight from it.
 */
const WASM_PAGE = 64 * 1024;
export const ALIGNMENT = 4096;

export function allocAlignedShared(bytes: number): SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return memory.buffer as unknown as SharedArrayBuffer;
}

/** A Buffer view of fresh aligned memory (private to one thread unless its `.buffer` is posted). */
export function allocAligned(bytes: number): Buffer {
  return Buffer.from(allocAlignedShared(bytes), 0, bytes);
}

/**
 * Aligned memory that only this thread uses (WebAssembly memory that is not
 * shared is page-aligned the same way). V8 copies into and out of shared
 * memory with relaxed atomics, byte by byte where the two sides are not
 * equally aligned: 1-2.5 GB/s here, against 20+ GB/s for ordinary memory.
 * Where bytes are copied in at arbitrary offsets (a backup's output staging),
 * this is the memory to use.
 */
export function allocAlignedPrivate(bytes: number): Buffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, bytes);
}

export function alignUp(n: number, to = ALIGNMENT): number {
  return Math.ceil(n / to) * to;
}

export function alignDown(n: number, to = ALIGNMENT): number {
  return Math.floor(n / to) * to;
}
