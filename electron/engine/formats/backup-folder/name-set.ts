import * as crypto from 'crypto';

/** Bytes of one piece name (a SHA-256 or HMAC-SHA-256). */
export const NAME_BYTES = 32;

/**
 * A set of piece names kept as bytes, outside the JavaScript heap: 32 bytes
 * a name and 8 to 16 of table. A Set of hex strings took about 150 bytes a
 * name of the heap; a drive of 1 TB in use is 15 million pieces of 64 KiB,
 * and every generation of it names them all, so prune's set of the pieces
 * still in use, a backup's set of the pieces it stored, or a restore's
 * search for repeated pieces ran out of heap (4 GiB at most, in Electron)
 * long before the disk filled.
 *
 * Open addressing over a hash of the whole name. The names come from
 * indexes, which are untrusted: the hash is seeded at random per set, so a
 * crafted index cannot line its names up into one long probe sequence.
 */
export class NameSet {
  private names: Buffer;
  /** Slot -> 1 + the name's index, 0 when empty. Its size is a power of two, at least twice the names. */
  private table: Int32Array;
  private count = 0;
  private readonly seed = crypto.randomBytes(4).readUInt32LE(0);

  constructor(expected = 1024) {
    this.names = Buffer.allocUnsafe(Math.max(16, expected) * NAME_BYTES);
    this.table = new Int32Array(tableSizeFor(Math.max(16, expected)));
  }

  get size(): number {
    return this.count;
  }

  /** The index the name at `at` of `src` has in this set (in the order names were added), or -1. */
  indexOf(src: Uint8Array, at = 0): number {
    const mask = this.table.length - 1;
    for (let slot = this.hash(src, at) & mask; ; slot = (slot + 1) & mask) {
      const k = this.table[slot] as number;
      if (k === 0) return -1;
      if (this.equals(k - 1, src, at)) return k - 1;
    }
  }

  has(src: Uint8Array, at = 0): boolean {
    return this.indexOf(src, at) >= 0;
  }

  /** Adds the name at `at` of `src` if absent; returns its index in this set (below the size before the call when it was there). */
  add(src: Uint8Array, at = 0): number {
    if ((this.count + 1) * 2 > this.table.length) this.grow();
    const mask = this.table.length - 1;
    let slot = this.hash(src, at) & mask;
    for (; ; slot = (slot + 1) & mask) {
      const k = this.table[slot] as number;
      if (k === 0) break;
      if (this.equals(k - 1, src, at)) return k - 1;
    }
    if ((this.count + 1) * NAME_BYTES > this.names.length) {
      const more = Buffer.allocUnsafe(this.names.length * 2);
      this.names.copy(more, 0, 0, this.count * NAME_BYTES);
      this.names = more;
    }
    this.names.set(src.subarray(at, at + NAME_BYTES), this.count * NAME_BYTES);
    this.table[slot] = ++this.count;
    return this.count - 1;
  }

  /** The name of index `k`, in hex. */
  hex(k: number): string {
    return this.names.toString('hex', k * NAME_BYTES, (k + 1) * NAME_BYTES);
  }

  hasHex(hex: string): boolean {
    return this.has(hexName(hex));
  }

  private equals(k: number, src: Uint8Array, at: number): boolean {
    return this.names.compare(src, at, at + NAME_BYTES, k * NAME_BYTES, (k + 1) * NAME_BYTES) === 0;
  }

  private hash(src: Uint8Array, at: number): number {
    return hashName(src, at, this.seed);
  }

  private grow(): void {
    const table = new Int32Array(this.table.length * 2);
    const mask = table.length - 1;
    for (let k = 0; k < this.count; k++) {
      let slot = this.hash(this.names, k * NAME_BYTES) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = k + 1;
    }
    this.table = table;
  }
}

/** A hash of the whole name at `at` of `src`, seeded. */
function hashName(src: Uint8Array, at: number, seed: number): number {
  let h = seed;
  for (let i = at; i < at + NAME_BYTES; i += 4) {
    const w = (src[i] as number) | ((src[i + 1] as number) << 8) | ((src[i + 2] as number) << 16) | ((src[i + 3] as number) << 24);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/**
 * For each of the `names.length / NAME_BYTES` names in `names`, the index of
 * the first one equal to it (its own index when it is the first). A NameSet
 * would copy the names; this only indexes them where they are, 8 to 16
 * bytes a name (a restore's list of 15 million pieces of a 1 TB drive).
 */
export function firstOccurrences(names: Uint8Array): Int32Array {
  const count = Math.floor(names.length / NAME_BYTES);
  const first = new Int32Array(count);
  const table = new Int32Array(tableSizeFor(count));
  const mask = table.length - 1;
  const seed = crypto.randomBytes(4).readUInt32LE(0);
  const view = Buffer.from(names.buffer, names.byteOffset, names.byteLength);
  for (let i = 0; i < count; i++) {
    const at = i * NAME_BYTES;
    let slot = hashName(names, at, seed) & mask;
    first[i] = i;
    for (; ; slot = (slot + 1) & mask) {
      const k = table[slot] as number;
      if (k === 0) {
        table[slot] = i + 1;
        break;
      }
      if (view.compare(view, at, at + NAME_BYTES, (k - 1) * NAME_BYTES, k * NAME_BYTES) === 0) {
        first[i] = k - 1;
        break;
      }
    }
  }
  return first;
}

function tableSizeFor(n: number): number {
  let size = 32;
  while (size < n * 2) size *= 2;
  return size;
}

const scratch = Buffer.alloc(NAME_BYTES);

/** A 64-digit hex name as bytes, in a buffer reused by the next call. */
function hexName(hex: string): Buffer {
  if (scratch.write(hex, 0, 'hex') !== NAME_BYTES) throw new Error(`${JSON.stringify(hex)} is not a piece name`);
  return scratch;
}
