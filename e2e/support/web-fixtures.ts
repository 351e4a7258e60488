import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const sha256Of = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * A small real PNG (a 4x4 two-colour picture) written by Python with zlib,
 * the format's own chunks and CRCs: the catalogue's icon, which the service
 * fetches and hands to the page as a data: URL.
 */
export function makePng(dir: string, name: string): Buffer {
  const file = path.join(dir, name);
  const script = `
import struct, zlib, sys
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
rows = b''.join(b'\\x00' + (b'\\x2f\\x6f\\xde' * 2 + b'\\xff\\xc0\\x00' * 2) for _ in range(4))
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 4, 4, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
`;
  execFileSync('python3', ['-c', script, file]);
  return fs.readFileSync(file);
}

/** The image compressed by the real xz tool (kept beside it); one thread, so the .xz has a single block as most published images do. */
export function xzOf(file: string): string {
  execFileSync('xz', ['-k', '-f', '-0', '-T1', file]);
  return `${file}.xz`;
}

/** A file of `bytes` whose every byte is `fill`: a drive's old content, to tell whether a failed flash touched its head. */
export function makeMarkedFile(dir: string, name: string, bytes: number, fill: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(bytes, fill));
  return file;
}
