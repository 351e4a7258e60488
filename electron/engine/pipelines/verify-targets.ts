import type { TargetProgress } from '../../../shared/job-events';
import type { SourceInfo } from '../formats/image-source';
import type { ChunkCheck } from '../workers/messages';
import { TargetVerifier } from './target-verifier';
import { DEFAULT_STALL_TIMEOUT_MS } from './write-pipeline-contract';

export interface VerifyTask {
  progress: TargetProgress;
  isBlockDevice: boolean;
  /** A verifier that already read back chunks while the flash wrote them; it checks the rest. */
  verifier?: TargetVerifier | null;
  /** Chunks that verifier was given already. */
  checked?: ReadonlySet<number>;
}

/** The checks for every chunk of an image of `totalBytes`, but those in `skip`. */
export function chunkChecks(crcs: number[], totalBytes: number, chunkSize: number, skip?: ReadonlySet<number>): ChunkCheck[] {
  const checks: ChunkCheck[] = [];
  for (let chunk = 0; chunk < crcs.length; chunk++) {
    if (skip?.has(chunk)) continue;
    checks.push({ chunk, length: Math.min(chunkSize, totalBytes - chunk * chunkSize), crc: crcs[chunk] as number });
  }
  return checks;
}

/**
 * Reads every target back at once, each on its own worker, and compares with
 * the image's chunk checksums. Each target's result lands in its progress
 * record: verified, or failed with the reason and the first differing offset.
 */
export async function verifyTargets(
  info: SourceInfo,
  tasks: VerifyTask[],
  crcs: number[],
  totalBytes: number,
  chunkSize: number,
  signal?: AbortSignal,
  stallTimeoutMs: number = DEFAULT_STALL_TIMEOUT_MS,
): Promise<void> {
  await Promise.all(
    tasks.map(async (task) => {
      const p = task.progress;
      p.status = 'verifying';
      const verifier =
        task.verifier ??
        new TargetVerifier({ info, device: p.device, isBlockDevice: task.isBlockDevice, chunkSize, stallTimeoutMs, signal, onProgress: (bytes) => (p.bytesVerified = bytes) });
      if (!task.verifier) p.bytesVerified = 0;
      try {
        const outcome = await verifier.final(totalBytes, chunkChecks(crcs, totalBytes, chunkSize, task.verifier ? task.checked : undefined));
        if (outcome.status === 'verified') {
          p.bytesVerified = totalBytes;
          p.status = 'verified';
        } else {
          p.status = outcome.status;
          p.error = outcome.error;
        }
      } finally {
        await verifier.stop();
      }
    }),
  );
}
