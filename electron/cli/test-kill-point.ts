import type { PruneStep } from '../engine/jobs/folder-prune';

/**
 * For crash tests only: IMPRINT_TEST_KILL_AT="STEP:N" makes the process
 * SIGKILL itself the Nth time a job reaches the named step (for prune:
 * PruneStep in jobs/folder-prune.ts). A real SIGKILL, at a point a timed
 * kill from outside would hit only by luck: prune of a small folder is over
 * in milliseconds. Unset (always, outside tests), it does nothing.
 */
export function killPointFromEnv(env: Readonly<Record<string, string | undefined>>): ((step: PruneStep) => void) | undefined {
  const m = /^([a-z-]{1,40}):(\d{1,6})$/.exec(env.IMPRINT_TEST_KILL_AT ?? '');
  if (!m) return undefined;
  const [, name, nth] = m;
  let left = Number(nth);
  return (step) => {
    if (step === name && --left <= 0) process.kill(process.pid, 'SIGKILL');
  };
}
