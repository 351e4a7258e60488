import { spawn } from 'child_process';
import * as fs from 'fs';
import { ImprintError } from '../errors';
import type { ByteSource } from './byte-source-types';
import type { SourceInfo } from './image-source';
import { nativeXz } from './xz-decoder';
import { readExactly, readXzIndex, singleBlockStreamParts, type XzBlockInfo, type XzIndex } from './xz-index';

/**
 * Random access to a multi-block .xz (what `xz -T0` writes) through its
 * block index: a read decodes only the blocks that hold the range, each
 * turned into a one-block stream (xz-index.ts) and decoded by the system's
 * xz. The last few blocks are kept, since a filesystem walk comes back to
 * the same metadata again and again.
 */

/** Blocks larger than this are not decoded one at a time (xz -9's are 192 MiB): the file is read from the start instead. */
const MAX_BLOCK = 64 << 20;
/** Decoded blocks kept: xz -6 -T0 blocks are 24 MiB, so about 100 MiB at most. */
const CACHED_BLOCKS = 4;

/** A block-index source, or why the file must be read from the start. */
export async function openXzBlockSource(info: SourceInfo): Promise<{ source: ByteSource; whyNot?: undefined } | { source: null; whyNot: string }> {
  const xz = nativeXz();
  if (!xz) return { source: null, whyNot: 'this system has no xz program to decode single blocks: reading the .xz from the start' };
  let index: XzIndex;
  try {
    index = await readXzIndex(info.path);
  } catch (err) {
    return { source: null, whyNot: `the .xz index could not be used (${(err as Error).message}): reading from the start` };
  }
  if (index.blocks.length < 2) return { source: null, whyNot: 'this .xz is a single block (not written with xz -T): reading from the start' };
  if (index.blocks.some((b) => b.uncompressedSize > MAX_BLOCK)) return { source: null, whyNot: 'this .xz has very large blocks: reading from the start' };
  return { source: new XzBlockSource(info, xz, index, await fs.promises.open(info.path, 'r')) };
}

class XzBlockSource implements ByteSource {
  readonly access = 'block-index' as const;
  readonly note = null;
  private readonly cache = new Map<number, Promise<Buffer>>();

  constructor(
    readonly info: SourceInfo,
    private readonly xz: string,
    private readonly index: XzIndex,
    private readonly file: fs.promises.FileHandle,
  ) {}

  size(): number {
    return this.index.uncompressedSize;
  }

  async fullSize(): Promise<number> {
    return this.index.uncompressedSize;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size(), offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(end - offset);
    let at = offset;
    while (at < end) {
      const i = this.blockAt(at);
      const block = this.index.blocks[i]!;
      const content = await this.decoded(i, block);
      const from = at - block.uncompressedOffset;
      const n = Math.min(end - at, block.uncompressedSize - from);
      if (n <= 0) throw new ImprintError('E_CORRUPT_SOURCE', `${this.info.path}: the .xz index has a gap at byte ${at}.`);
      content.copy(out, at - offset, from, from + n);
      at += n;
    }
    return out;
  }

  /** The block holding content byte `at` (binary search: blocks are in order). */
  private blockAt(at: number): number {
    const blocks = this.index.blocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]!.uncompressedOffset <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private decoded(i: number, block: XzBlockInfo): Promise<Buffer> {
    const hit = this.cache.get(i);
    if (hit) {
      this.cache.delete(i);
      this.cache.set(i, hit);
      return hit;
    }
    if (this.cache.size >= CACHED_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
    const p = this.decode(block);
    p.catch(() => this.cache.delete(i));
    this.cache.set(i, p);
    return p;
  }

  private async decode(block: XzBlockInfo): Promise<Buffer> {
    const stream = this.index.streams[block.streamIndex];
    if (!stream) throw new ImprintError('E_CORRUPT_SOURCE', `${this.info.path}: the .xz index names a stream that does not exist.`);
    const body = await readExactly(this.file, block.compressedOffset, block.totalSize);
    const { header, trailer } = singleBlockStreamParts(block, stream.flags);
    const input = Buffer.concat([header, body, trailer]);
    const out = await runXz(this.xz, input);
    if (out.length !== block.uncompressedSize) {
      throw new ImprintError('E_CORRUPT_SOURCE', `${this.info.path} is damaged: the block at byte ${block.compressedOffset} decodes to ${out.length} bytes, not ${block.uncompressedSize}.`, { offset: block.compressedOffset });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Decodes one complete .xz stream held in memory with the system's xz. */
function runXz(xz: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(xz, ['--decompress', '--stdout', '--single-stream', '--threads=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new ImprintError('E_CORRUPT_SOURCE', `A block of the .xz file does not decode: ${stderr.trim() || `xz exited with ${code}`}`));
    });
    child.stdin.end(input);
  });
}
