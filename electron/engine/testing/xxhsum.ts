import { execFileSync } from 'child_process';

/**
 * The low 32 bits of XXH64 (seed 0) of `data` by the xxhsum program
 * (xxHash's own command line, Debian `xxhash`): an implementation
 * independent of the engine's, for checking zstd frame checksums and
 * io/xxh64.ts against.
 */
export function xxhsumLow32(data: Uint8Array): number {
  const out = execFileSync('xxhsum', ['-H1'], { input: data }).toString();
  const hex = /^([0-9a-f]{16})\b/.exec(out)?.[1];
  if (!hex) throw new Error(`xxhsum printed no XXH64: ${out}`);
  return parseInt(hex.slice(8), 16);
}
