/**
 * A generation's piece list as schema 2 indexes store it (docs/backup-folder.md):
 * only the pieces' names, 32 bytes each, in drive order, as one base64
 * string. Offsets and lengths are not stored because the backup cuts pieces
 * deterministically: each stored range at every multiple of the piece size.
 * A schema 1 index spelled out [offset, length, hex name] for every piece,
 * about 87 bytes a piece against 43 here: on the folder bench's drive a
 * generation's index took 272 KB with 256 KiB pieces and takes 139 KB, or
 * 515 KB with 64 KiB pieces (about 1.07 MB as schema 1). Every backup,
 * even of an unchanged drive, writes one.
 */

/** [offset, length, name] of one piece (generation-index.ts's PieceRef). */
type Piece = [number, number, string];

/** Bytes of one piece name (a SHA-256 or HMAC-SHA-256). */
const NAME_BYTES = 32;
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
 * The names of `pieces` for a schema 2 index. Throws if the pieces are not
 * exactly the cut of `ranges` (a bug: the index would read back otherwise).
 */
export function encodePieceNames(pieces: readonly Piece[], ranges: readonly (readonly [number, number])[], pieceSize: number): { pieceCount: number; pieceNames: string } {
  if (pieceCount(ranges, pieceSize) !== pieces.length) throw new Error(`${pieces.length} pieces for ranges that cut into ${pieceCount(ranges, pieceSize)}`);
  const names = Buffer.alloc(pieces.length * NAME_BYTES);
  let i = 0;
  for (const [offset, length] of cutRanges(ranges, pieceSize)) {
    const p = pieces[i] as Piece;
    if (p[0] !== offset || p[1] !== length || !/^[0-9a-f]{64}$/.test(p[2])) throw new Error(`piece ${i} (${p[1]} bytes at ${p[0]}) is not the cut's ${length} bytes at ${offset}`);
    names.write(p[2], i * NAME_BYTES, 'hex');
    i++;
  }
  return { pieceCount: pieces.length, pieceNames: names.toString('base64') };
}

/**
 * The pieces of a schema 2 index (untrusted): the count must be what the
 * ranges cut into, and the names exactly that many, before anything is
 * built. Returns the list or why it cannot be used. `ranges` are already
 * checked (sorted, inside the drive, non-empty: asBackupMetadata).
 */
export function decodePieceList(ranges: readonly (readonly [number, number])[], pieceSize: number, count: unknown, names: unknown): Piece[] | string {
  if (!isSize(count)) return 'its piece count is malformed';
  if (typeof names !== 'string' || !BASE64.test(names)) return 'its piece names are not base64';
  // Checked on the text, before decoding it: a crafted count cannot make us allocate more than the file holds.
  if (names.length !== Math.ceil((count * NAME_BYTES) / 3) * 4) return `its piece names are ${names.length} characters, not the ${count} names it counts`;
  const expected = pieceCount(ranges, pieceSize);
  if (expected !== count) return `it counts ${count} pieces, but its stored ranges cut into ${expected}`;
  const raw = Buffer.from(names, 'base64');
  if (raw.length !== count * NAME_BYTES) return 'its piece names do not decode to whole names';
  const out: Piece[] = new Array<Piece>(count);
  let i = 0;
  for (const [offset, length] of cutRanges(ranges, pieceSize)) {
    out[i] = [offset, length, raw.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES)];
    i++;
  }
  return out;
}
