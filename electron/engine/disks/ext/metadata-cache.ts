import type { Volume } from '../volume';

/**
 * Metadata reads (inodes, directory and extent blocks) go through a small
 * LRU of aligned chunks: listing a folder of 10,000 files reads 10,000
 * inodes that sit side by side in the inode table, and one 64 KiB read
 * serves 256 of them instead of one read each. File contents bypass it.
 */

const CHUNK = 64 * 1024;
/** 256 chunks of 64 KiB: 16 MiB at most, per open filesystem. */
const MAX_CHUNKS = 256;

export class MetadataCache {
  private readonly chunks = new Map<number, Promise<Buffer>>();

  constructor(private readonly volume: Volume) {}

  private chunk(index: number): Promise<Buffer> {
    let p = this.chunks.get(index);
    if (p) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.chunks.delete(index);
      this.chunks.set(index, p);
      return p;
    }
    const start = index * CHUNK;
    p = this.volume.read(start, Math.min(CHUNK, this.volume.size - start));
    // A failed read is not cached: the next caller retries it.
    p.catch(() => this.chunks.delete(index));
    this.chunks.set(index, p);
    if (this.chunks.size > MAX_CHUNKS) this.chunks.delete(this.chunks.keys().next().value!);
    return p;
  }

  /** `length` bytes at `offset` (checked against the volume by the volume itself). */
  async read(offset: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    if (offset < 0 || offset + length > this.volume.size || !Number.isSafeInteger(offset + length)) return this.volume.read(offset, length);
    const first = Math.floor(offset / CHUNK);
    const last = Math.floor((offset + length - 1) / CHUNK);
    if (first === last) {
      const c = await this.chunk(first);
      return c.subarray(offset - first * CHUNK, offset - first * CHUNK + length);
    }
    if (last - first > 4) return this.volume.read(offset, length);
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) parts.push(await this.chunk(i));
    const whole = Buffer.concat(parts);
    return whole.subarray(offset - first * CHUNK, offset - first * CHUNK + length);
  }
}
