/**
 * LZO1X decompression, safe against any input: every read of the input,
 * write of the output and look-behind is bounds-checked, and a stream that
 * does not end with LZO's end marker (or runs past either buffer) is an
 * error. The instruction format follows the Linux kernel's
 * lib/lzo/lzo1x_decompress_safe.c (plain LZO1X, which btrfs writes; not the
 * kernel's lzo-rle variant). Written for btrfs's LZO extents, whose segments
 * decode to at most one sector each.
 */

export class LzoError extends Error {}

/** Decodes `input` into `out`; returns the bytes written. */
export function lzo1xDecompress(input: Uint8Array, out: Uint8Array): number {
  let ip = 0;
  let op = 0;
  const inEnd = input.length;
  const outEnd = out.length;
  const needIn = (n: number): void => {
    if (inEnd - ip < n) throw new LzoError('the LZO data ends early');
  };
  const needOut = (n: number): void => {
    if (outEnd - op < n) throw new LzoError('the LZO data decodes to more than it may');
  };
  const byte = (): number => {
    needIn(1);
    return input[ip++] as number;
  };
  /** A length continued in zero bytes (each 255 more) and a final byte. */
  const longLength = (base: number): number => {
    let t = 0;
    for (;;) {
      const b = byte();
      if (b !== 0) return t + base + b;
      t += 255;
      if (t > outEnd) throw new LzoError('an LZO length runs past the output');
    }
  };
  const literals = (n: number): void => {
    needIn(n);
    needOut(n);
    out.set(input.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  /** Copies `n` bytes from `distance` back, byte by byte (the ranges may overlap: a run repeats). */
  const match = (distance: number, n: number): void => {
    const from = op - distance;
    if (from < 0) throw new LzoError('an LZO match reaches before the start of the output');
    needOut(n);
    for (let i = 0; i < n; i++) out[op + i] = out[from + i] as number;
    op += n;
  };

  if (inEnd < 3) throw new LzoError('the LZO data is too short');
  let state = 0;
  let t: number;
  let next: number;
  const first = input[0] as number;
  if (first > 17) {
    ip = 1;
    t = first - 17;
    if (t < 4) {
      literals(t);
      state = t;
    } else {
      literals(t);
      state = 4;
    }
  }
  for (;;) {
    t = byte();
    if (t < 16) {
      if (state === 0) {
        // A run of literals.
        literals((t === 0 ? longLength(15) : t) + 3);
        state = 4;
        continue;
      }
      next = t & 3;
      if (state !== 4) {
        // Two bytes from up to 1 KiB back, after a short literal run.
        match(1 + (t >> 2) + (byte() << 2), 2);
      } else {
        // Three bytes from 2-3 KiB back, after a long literal run.
        match(1 + 0x0800 + (t >> 2) + (byte() << 2), 3);
      }
    } else if (t >= 64) {
      next = t & 3;
      const distance = 1 + ((t >> 2) & 7) + (byte() << 3);
      match(distance, (t >> 5) + 1);
    } else if (t >= 32) {
      let n = (t & 31) + 2;
      if (n === 2) n = longLength(31) + 2;
      needIn(2);
      const d = (input[ip] as number) | ((input[ip + 1] as number) << 8);
      ip += 2;
      next = d & 3;
      match(1 + (d >> 2), n);
    } else {
      let n = (t & 7) + 2;
      if (n === 2) n = longLength(7) + 2;
      needIn(2);
      const d = (input[ip] as number) | ((input[ip + 1] as number) << 8);
      ip += 2;
      next = d & 3;
      const distance = ((t & 8) << 11) + (d >> 2);
      if (distance === 0) {
        // The end marker.
        if (n !== 3) throw new LzoError('the LZO end marker is malformed');
        if (ip !== inEnd) throw new LzoError('the LZO data goes on after its end marker');
        return op;
      }
      match(distance + 0x4000, n);
    }
    // Up to three literals follow a match, told by its last two bits.
    literals(next);
    state = next;
  }
}
