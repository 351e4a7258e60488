import { NAME_BYTES } from './name-set';

/**
 * A generation's piece list (docs/backup-folder.md). Offsets and lengths
 * are not stored, because the backup cuts pieces deterministically: each
 * stored range at every multiple of the piece size. Only the names are,
 * 32 bytes each, in drive order:
 * - schema 3 (written since): in a file of their own beside the index,
 *   generations/<id>.names, bytes as they are (sealed in an encrypted
 *   folder), the index holding their count and SHA-256. In the index
 *   itself they made it 43 bytes a piece of JSON: a drive with 384 GiB in
 *   use made an index larger than the reader allowed (256 MiB), and one
 *   with 800 GiB a string larger than JavaScript can hold.
 * - schema 2: in the index, as one base64 string.
 * - schema 1 spelled out [offset, length, hex name] for every piece, about
 *   87 bytes a piece.
 */

/** [offset, length, name] of one piece (generation-index.ts's PieceRef). */
type Piece = [number, number, string];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** How many pieces the ranges cut into; counted per range, not per piece, so a crafted range list costs nothing. */
export function pieceCount(ranges: readonly (readonly [number, number])[], pieceSize: number): number {
  let n = 0;
  for (const [start, length] of ranges) n += Math.floor((start + length - 1) / pieceSize) - Math.floor(start / pieceSize) + 1;
  return n;
}

/** [offset, length] of each piece of the ranges (sorted, non-empty), in drive order: each range cut at every multiple of `pieceSize`. */
export function* cutRanges(ranges: readonly (readonly [number, number])[], pieceSize: number): Generator<[number, number]> {
  for (const [start, length] of ranges) {
    for (let at = start; at < start + length; ) {
      const end = Math.min(start + length, (Math.floor(at / pieceSize) + 1) * pieceSize);
      yield [at, end - at];
      at = end;
    }
  }
}

/**
 * The names of `pieces` as an index stores them. Throws if the pieces are
 * not exactly the cut of `ranges` (a bug: the index would read back
 * otherwise).
 */
export function cutNames(pieces: PieceList, ranges: readonly (readonly [number, number])[], pieceSize: number): Buffer {
  if (pieceCount(ranges, pieceSize) !== pieces.length) throw new Error(`${pieces.length} pieces for ranges that cut into ${pieceCount(ranges, pieceSize)}`);
  let i = 0;
  for (const [offset, length] of cutRanges(ranges, pieceSize)) {
    if (pieces.offset(i) !== offset || pieces.size(i) !== length) throw new Error(`piece ${i} (${pieces.size(i)} bytes at ${pieces.offset(i)}) is not the cut's ${length} bytes at ${offset}`);
    i++;
  }
  return pieces.names;
}

/**
 * The pieces of a schema 2 index (untrusted): the count must be what the
 * ranges cut into, and the names exactly that many, before anything is
 * built. Returns the list or why it cannot be used. `ranges` are already
 * checked (sorted, inside the drive, non-empty: asBackupMetadata).
 */
export function decodePieceList(ranges: readonly (readonly [number, number])[], pieceSize: number, count: unknown, names: unknown): PieceList | string {
  if (!isSize(count)) return 'its piece count is malformed';
  if (typeof names !== 'string' || !BASE64.test(names)) return 'its piece names are not base64';
  // Checked on the text, before decoding it: a crafted count cannot make us allocate more than the file holds.
  if (names.length !== Math.ceil((count * NAME_BYTES) / 3) * 4) return `its piece names are ${names.length} characters, not the ${count} names it counts`;
  const expected = pieceCount(ranges, pieceSize);
  if (expected !== count) return `it counts ${count} pieces, but its stored ranges cut into ${expected}`;
  const raw = Buffer.from(names, 'base64');
  if (raw.length !== count * NAME_BYTES) return 'its piece names do not decode to whole names';
  return PieceList.ofCut(ranges, pieceSize, raw);
}

/**
 * A generation's pieces in drive order: offsets, lengths and names (bytes)
 * in typed arrays, 44 bytes a piece outside the JavaScript heap. As an
 * array of [offset, length, hex name] a piece took about 150 bytes of heap,
 * and a generation of a drive with 1 TB in use (15 million pieces of 64
 * KiB) did not fit in it. `at(i)` and iteration still give that form, one
 * piece at a time, for code that reads a few.
 */
export class PieceList implements Iterable<Piece> {
  constructor(
    readonly offsets: Float64Array,
    readonly lengths: Uint32Array,
    /** NAME_BYTES a piece. */
    readonly names: Buffer,
  ) {
    if (lengths.length !== offsets.length || names.length !== offsets.length * NAME_BYTES) throw new Error('a piece list whose parts differ in length');
  }

  /** The cut of `ranges` (already checked) at multiples of `pieceSize`, named by `names` (NAME_BYTES each, as many as the cut has pieces). */
  static ofCut(ranges: readonly (readonly [number, number])[], pieceSize: number, names: Buffer): PieceList {
    const count = pieceCount(ranges, pieceSize);
    const offsets = new Float64Array(count);
    const lengths = new Uint32Array(count);
    // cutRanges: the one rule of the cut, which the backup cuts by too.
    let i = 0;
    for (const [at, length] of cutRanges(ranges, pieceSize)) {
      offsets[i] = at;
      lengths[i++] = length;
    }
    return new PieceList(offsets, lengths, names);
  }

  /** From [offset, length, hex name] triples (a schema 1 index, tests); names that are not 64 hex digits throw. */
  static ofRefs(refs: readonly Piece[]): PieceList {
    const b = new PieceListBuilder(refs.length);
    for (const [offset, length, hex] of refs) b.pushHex(offset, length, hex);
    return b.finish();
  }

  get length(): number {
    return this.offsets.length;
  }

  offset(i: number): number {
    return this.offsets[i] as number;
  }

  size(i: number): number {
    return this.lengths[i] as number;
  }

  /** Piece `i`'s name in hex (what its file is called). */
  hash(i: number): string {
    return this.names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
  }

  at(i: number): Piece {
    return [this.offset(i), this.size(i), this.hash(i)];
  }

  *[Symbol.iterator](): Iterator<Piece> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/** A PieceList built a piece at a time (a backup's cut), its arrays doubled as they fill. */
export class PieceListBuilder {
  private offsets: Float64Array;
  private lengths: Uint32Array;
  private names: Buffer;
  private count = 0;

  constructor(expected = 1024) {
    const n = Math.max(16, expected);
    this.offsets = new Float64Array(n);
    this.lengths = new Uint32Array(n);
    this.names = Buffer.allocUnsafe(n * NAME_BYTES);
  }

  get length(): number {
    return this.count;
  }

  push(offset: number, length: number, name: Uint8Array): void {
    if (name.length !== NAME_BYTES) throw new Error(`a piece name of ${name.length} bytes`);
    if (this.count === this.offsets.length) this.grow();
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.names.set(name, this.count * NAME_BYTES);
    this.count++;
  }

  pushHex(offset: number, length: number, hex: string): void {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${JSON.stringify(hex)} is not a piece name`);
    this.push(offset, length, Buffer.from(hex, 'hex'));
  }

  finish(): PieceList {
    const n = this.count;
    return new PieceList(this.offsets.slice(0, n), this.lengths.slice(0, n), Buffer.from(this.names.subarray(0, n * NAME_BYTES)));
  }

  private grow(): void {
    const n = this.offsets.length * 2;
    const offsets = new Float64Array(n);
    offsets.set(this.offsets);
    const lengths = new Uint32Array(n);
    lengths.set(this.lengths);
    const names = Buffer.allocUnsafe(n * NAME_BYTES);
    this.names.copy(names);
    this.offsets = offsets;
    this.lengths = lengths;
    this.names = names;
  }
}
