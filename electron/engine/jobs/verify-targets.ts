import type { TargetProgress } from '../../../shared/job-events';
import { ImprintError, fromErrorInfo } from '../errors';
import type { SourceInfo } from '../sources/image-source';
import type { FromVerify, ToVerify } from '../workers/messages';
import { formatBytes } from '../../../shared/units';
import { examineMismatch } from './locate-mismatch';
import { spawnWorker } from './worker-host';
import { DEFAULT_STALL_TIMEOUT_MS } from './write-pipeline';

export interface VerifyTask {
  progress: TargetProgress;
  isBlockDevice: boolean;
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
  const table = Uint32Array.from(crcs);
  await Promise.all(tasks.map((task) => verifyOne(info, task, table, totalBytes, chunkSize, stallTimeoutMs, signal)));
}

async function verifyOne(info: SourceInfo, task: VerifyTask, crcs: Uint32Array, totalBytes: number, chunkSize: number, stallTimeoutMs: number, signal?: AbortSignal): Promise<void> {
  const p = task.progress;
  p.status = 'verifying';
  p.bytesVerified = 0;
  const worker = spawnWorker<ToVerify, FromVerify>('verify-worker', {
    target: p.device,
    isBlockDevice: task.isBlockDevice,
    totalBytes,
    chunkSize,
    crcs,
  });
  if (signal?.aborted) worker.post({ type: 'cancel' });
  let lastMessageAt = Date.now();
  let watchdog: NodeJS.Timeout | null = null;
  const outcome = await new Promise<FromVerify>((resolve) => {
    // The worker closes the device itself on cancel; it answers within one chunk read.
    const onAbort = (): void => worker.post({ type: 'cancel' });
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.onCrash((err) => resolve({ type: 'error', error: { code: 'E_INTERNAL', message: `Verification of ${p.device} crashed: ${err.message}` } }));
    worker.onMessage((msg) => {
      lastMessageAt = Date.now();
      if (msg.type === 'progress') p.bytesVerified = msg.bytes;
      else resolve(msg);
    });
    // A read that never returns (a hung drive) leaves the worker silent: give up on it after the limit.
    watchdog = setInterval(() => {
      if (Date.now() - lastMessageAt <= stallTimeoutMs) return;
      const secs = stallTimeoutMs >= 1000 ? `${Math.round(stallTimeoutMs / 1000)} s` : `${stallTimeoutMs} ms`;
      resolve({ type: 'error', error: { code: 'E_DEVICE_HUNG', message: `${p.device}: the drive stopped responding. Reading it back gave nothing for ${secs}. Unplug it; it may be failing.`, offset: p.bytesVerified } });
    }, Math.min(1000, stallTimeoutMs / 2));
    watchdog.unref();
  });
  if (watchdog) clearInterval(watchdog);
  await worker.terminate();
  switch (outcome.type) {
    case 'ok':
      p.bytesVerified = totalBytes;
      p.status = 'verified';
      return;
    case 'cancelled':
      p.status = 'cancelled';
      p.error = new ImprintError('E_CANCELLED', `Verification of ${p.device} was cancelled; the data was written but not checked.`).toInfo();
      return;
    case 'error':
      p.status = 'failed';
      p.error = fromErrorInfo(outcome.error).toInfo();
      return;
    case 'mismatch': {
      const { offset, wrapsAt } = await examineMismatch(info, p.device, outcome.chunk, chunkSize, totalBytes);
      p.status = 'failed';
      p.error =
        wrapsAt !== null
          ? new ImprintError(
              'E_COUNTERFEIT',
              `${p.device} is counterfeit: the drive holds less than it claims; data wraps at about ${formatBytes(wrapsAt)} (${wrapsAt} bytes): what was written there landed back at the start, over earlier data (first differing byte at offset ${offset}). Use \`imprint check\` on a drive before trusting it.`,
              { offset: wrapsAt },
            ).toInfo()
          : new ImprintError('E_VERIFY_MISMATCH', `${p.device} does not hold what was written: the first differing byte is at offset ${offset}. The drive may be failing or counterfeit.`, { offset }).toInfo();
      return;
    }
    case 'progress':
      return;
  }
}
