/**
 * The CRC-32 (zlib's, as io/chunk-crc.ts takes it) of some bytes followed by
 * a run of zeros, without the zeros: appending n zero bytes multiplies the
 * CRC register by x^(8n) modulo the CRC polynomial, and x^(8n) is built from
 * the squares x^(2^k) in O(log n) multiplications (the arithmetic behind
 * zlib's crc32_combine, which Node does not expose). A backup folder's
 * restore takes a chunk's CRC piece by piece, and the free space between
 * pieces is never filled: on the bench's drive that is about a fifth of the
 * chunks' bytes, which would otherwise be zeroed and folded in.
 */

/** The reflected CRC-32 polynomial. */
const POLY = 0xedb88320;

/** a * b modulo the polynomial, both in the reflected bit order (bit 31 is x^0). */
function multiply(a: number, b: number): number {
  let product = 0;
  let m = 0x80000000;
  while (m !== 0) {
    if (a & m) product ^= b;
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** SQUARES[k] = x^(2^k) modulo the polynomial (x^1 is bit 30). */
const SQUARES: number[] = [];
for (let k = 0, p = 0x40000000; k < 64; k++, p = multiply(p, p)) SQUARES.push(p);

/** x^(8n) modulo the polynomial: the register's factor for n zero bytes. */
function zeroBytesFactor(n: number): number {
  let factor = 0x80000000;
  // n * 8 as bits of n starting at x^(2^3); n is a safe integer, so at most 53 bits.
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) factor = multiply(SQUARES[k] as number, factor);
  }
  return factor;
}

/** zlib.crc32 continued from `crc` over `n` zero bytes (crc32AfterZeros(0, n) is the CRC-32 of n zeros). */
export function crc32AfterZeros(crc: number, n: number): number {
  if (n <= 0) return crc >>> 0;
  // The register holds the CRC with its final inversion undone; zeros multiply it.
  return (multiply(zeroBytesFactor(n), (crc ^ 0xffffffff) >>> 0) ^ 0xffffffff) >>> 0;
}
