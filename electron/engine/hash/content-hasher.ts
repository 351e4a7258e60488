import * as crypto from 'crypto';
import type { HashAlgorithm } from '../../../shared/job-events';

/**
 * Incremental digests of several algorithms at once. xxh3 comes from
 * hash-wasm (WebAssembly: no native build, runs on Node 20 and Electron alike).
 */
export interface MultiHasher {
  update(data: Uint8Array): void;
  digest(): Partial<Record<HashAlgorithm, string>>;
}

type Incremental = { update(data: Uint8Array): unknown; digest(): string };

export async function createHasher(algorithms: HashAlgorithm[]): Promise<MultiHasher> {
  const hashers: [HashAlgorithm, Incremental][] = [];
  for (const algo of new Set(algorithms)) {
    if (algo === 'xxh3') {
      const { createXXHash3 } = await import('hash-wasm');
      const h = await createXXHash3();
      h.init();
      hashers.push([algo, { update: (d) => h.update(d), digest: () => h.digest('hex') }]);
    } else {
      const h = crypto.createHash(algo);
      hashers.push([algo, { update: (d) => h.update(d), digest: () => h.digest('hex') }]);
    }
  }
  return {
    update(data) {
      for (const [, h] of hashers) h.update(data);
    },
    digest() {
      return Object.fromEntries(hashers.map(([a, h]) => [a, h.digest()]));
    },
  };
}

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'sha1', 'md5', 'xxh3'];
