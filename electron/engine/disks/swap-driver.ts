import type { AllocationMap, FilesystemDriver } from './filesystem-driver';
import type { Volume } from './volume';

/**
 * Linux swap. Only its header page matters (signature, UUID, label, bad
 * page list); the pages after it hold nothing worth keeping once the system
 * is off, and mkswap's header is all a restored swap area needs. A swap
 * area that holds a hibernation image is different: the image is the
 * system's saved memory, so it is copied whole. Layout: util-linux
 * include/swapheader.h and libblkid's swap probe (magic at page size - 10).
 */

/** Page sizes of the architectures Linux runs on, smallest first. */
const PAGE_SIZES = [4096, 8192, 16384, 65536];
const SWAP_MAGICS = ['SWAPSPACE2', 'SWAP-SPACE'];
/** Signatures suspend tools write over the swap magic while an image is stored (libblkid probe_swap). */
const HIBERNATION_MAGICS = ['S1SUSPEND', 'S2SUSPEND', 'ULSUSPEND', 'LINHIB0001'];
const MAGIC_AREA = 10;

type Signature = { pageSize: number; kind: 'swap' | 'hibernation'; magic: string };

function findSignature(head: Uint8Array): Signature | null {
  for (const pageSize of PAGE_SIZES) {
    if (head.length < pageSize) break;
    const area = Buffer.from(head.buffer, head.byteOffset + pageSize - MAGIC_AREA, MAGIC_AREA).toString('latin1');
    const swap = SWAP_MAGICS.find((m) => area.startsWith(m));
    if (swap) return { pageSize, kind: 'swap', magic: swap };
    const hib = HIBERNATION_MAGICS.find((m) => area.startsWith(m));
    if (hib) return { pageSize, kind: 'hibernation', magic: hib };
  }
  return null;
}

/** Bytes of the volume's start that detect() and allocation() look at (the largest page). */
const HEAD = PAGE_SIZES[PAGE_SIZES.length - 1]!;

export async function swapAllocation(volume: Volume): Promise<AllocationMap> {
  const head = await volume.read(0, Math.min(HEAD, volume.size));
  const sig = findSignature(head);
  if (!sig) return { kind: 'whole', filesystem: null, reason: 'no Linux swap signature' };
  if (sig.kind === 'hibernation') {
    return { kind: 'whole', filesystem: 'swap', reason: `swap holds a hibernation image (${sig.magic}); copied whole so resuming still works` };
  }
  if (sig.magic === 'SWAP-SPACE') return { kind: 'whole', filesystem: 'swap', reason: 'old version-0 swap area' };
  return { kind: 'used-blocks', filesystem: 'swap', blockSize: sig.pageSize, usedBytes: sig.pageSize, ranges: [{ start: 0, length: sig.pageSize }] };
}

export const swapDriver: FilesystemDriver = {
  family: 'swap',
  detect: (head) => findSignature(head) !== null,
  allocation: swapAllocation,
};
