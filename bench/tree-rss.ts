import * as fs from 'fs';

/**
 * Peak memory of a process together with its children. time(1)'s %M is the
 * largest single process, not the sum: when Imprint decodes through a program
 * (xz, lbzip2), that program's memory is Imprint's cost too. So the tree is
 * sampled every few milliseconds and its summed RSS kept at its peak.
 */

const PAGE_KIB = 4;

function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      // The task ended between the listing and the read.
    }
  }
  return out;
}

function rssKiB(pid: number): number {
  try {
    const resident = Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return Number.isFinite(resident) ? resident * PAGE_KIB : 0;
  } catch {
    return 0;
  }
}

/** Summed RSS of `root`'s descendants (not `root` itself: it is the time(1) wrapper). */
function treeKiB(root: number): number {
  let total = 0;
  const todo = children(root);
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    total += rssKiB(pid);
    todo.push(...children(pid));
  }
  return total;
}

/** Starts sampling; `stop()` returns the peak in KiB. */
export function sampleTreeRss(root: number, everyMs = 20): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, treeKiB(root))), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}
