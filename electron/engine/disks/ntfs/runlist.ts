/**
 * Runlists (mapping pairs): where a non-resident attribute's clusters lie.
 * Each run is a header byte (low nibble: bytes of the run length, high
 * nibble: bytes of the LCN delta), the length, then a signed delta from the
 * previous run's LCN; no delta bytes means a sparse run (reads as zeros). A
 * zero header ends the list. (layout.h: ATTR_RECORD mapping_pairs_offset;
 * the format is described above ntfs_mapping_pairs_decompress in runlist.c.)
 */

/** Metadata that does not check out; its message says what, for the user. */
export class NtfsFormatError extends Error {
  readonly code = 'E_NTFS_FORMAT';
}

/** `length` clusters from virtual cluster `vcn`, stored at `lcn` (null: sparse, reads as zeros). */
export interface Run {
  vcn: number;
  lcn: number | null;
  length: number;
}

/** Reads a little-endian integer of 1..8 bytes; signed when asked. Null when it does not fit a safe integer. */
function readVarInt(buf: Buffer, pos: number, size: number, signed: boolean): number | null {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i] ?? 0);
  if (signed && size > 0 && ((buf[pos + size - 1] ?? 0) & 0x80) !== 0) v -= 1n << BigInt(size * 8);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(v);
}

/**
 * Decodes the mapping pairs in buf[start, end) for an attribute extent that
 * begins at `firstVcn`. Every stored run must lie inside the filesystem's
 * `totalClusters`; throws NtfsFormatError otherwise.
 */
export function decodeRunlist(buf: Buffer, start: number, end: number, firstVcn: number, totalClusters: number): Run[] {
  const runs: Run[] = [];
  let pos = start;
  let vcn = firstVcn;
  let lcn = 0;
  // Each run takes at least two bytes, so this bounds the loop by the attribute's size.
  while (pos < end) {
    const header = buf[pos] ?? 0;
    if (header === 0) return runs;
    const lenSize = header & 0x0f;
    const lcnSize = header >> 4;
    if (lenSize === 0 || lenSize > 8 || lcnSize > 8 || pos + 1 + lenSize + lcnSize > end) {
      throw new NtfsFormatError(`a runlist is malformed (header 0x${header.toString(16)} at byte ${pos - start})`);
    }
    const length = readVarInt(buf, pos + 1, lenSize, true);
    if (length === null || length <= 0) throw new NtfsFormatError('a runlist has a run of invalid length');
    if (lcnSize === 0) {
      runs.push({ vcn, lcn: null, length });
    } else {
      const delta = readVarInt(buf, pos + 1 + lenSize, lcnSize, true);
      if (delta === null) throw new NtfsFormatError('a runlist has an invalid cluster offset');
      lcn += delta;
      if (lcn < 0 || lcn + length > totalClusters) {
        throw new NtfsFormatError(`a runlist points outside the filesystem (clusters ${lcn}..${lcn + length} of ${totalClusters})`);
      }
      runs.push({ vcn, lcn, length });
    }
    vcn += length;
    if (!Number.isSafeInteger(vcn)) throw new NtfsFormatError('a runlist is too long');
    pos += 1 + lenSize + lcnSize;
  }
  throw new NtfsFormatError('a runlist runs past the end of its attribute');
}
