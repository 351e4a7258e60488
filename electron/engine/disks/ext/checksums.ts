/**
 * The two checksums ext4 puts in its metadata: CRC32C (metadata_csum) and
 * CRC16 (the older gdt_csum group descriptors). Both are "raw" register
 * values as the kernel's crc32c_le()/crc16() return them: no final
 * inversion, the seed passed in as is (the kernel starts from ~0).
 */

function table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

const CRC32C = table(0x82f63b78);
// CRC-16/ARC, reflected polynomial 0x8005 (lib/crc16.c).
const CRC16 = table(0xa001);

/** CRC32C register continued over `data` (kernel crc32c_le semantics). */
export function crc32c(seed: number, data: Uint8Array): number {
  let c = seed >>> 0;
  for (let i = 0; i < data.length; i++) c = (CRC32C[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  return c >>> 0;
}

/** CRC16 register continued over `data` (kernel crc16 semantics). */
export function crc16(seed: number, data: Uint8Array): number {
  let c = seed & 0xffff;
  for (let i = 0; i < data.length; i++) c = (CRC16[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) & 0xffff;
  return c;
}

/** Little-endian bytes of a 32-bit number (the group number fed to descriptor checksums). */
export function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
