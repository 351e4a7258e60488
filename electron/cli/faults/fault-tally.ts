import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The fault bench's figures. Each fault test file runs in its own process
 * (node --test), so each appends one JSON line per event to a file shared by
 * the run, named after the run: IMPRINT_TEST_RUN when scripts/run-tests.mjs
 * set it (npm test: the summary runs in a second node --test, after all
 * other files), else the test runner's pid (our parent: npm run test:faults).
 * The last file of the bench (zz-summary.test.ts) adds them up and prints
 * the summary line.
 */

export type TallyEntry =
  | { kind: 'fault'; name: string; event: 'injected' | 'survived' }
  | { kind: 'bad-input'; name: string }
  | { kind: 'bytes-lost'; name: string; bytes: number };

const PREFIX = 'imprint-fault-tally-';

/** This run's id: the test runner's, so every test file of one run shares it. */
function runId(): number {
  const given = Number(process.env.IMPRINT_TEST_RUN);
  return Number.isSafeInteger(given) && given > 0 ? given : process.ppid;
}

/** The tally file of this run. */
export function tallyFile(runner = runId()): string {
  return path.join(os.tmpdir(), `${PREFIX}${runner}.jsonl`);
}

export function record(entry: TallyEntry): void {
  fs.appendFileSync(tallyFile(), JSON.stringify(entry) + '\n');
}

export interface Tally {
  injected: number;
  survived: number;
  badInputs: number;
  bytesLost: number;
  /** Faults injected whose test did not end with the right report. */
  notSurvived: string[];
}

export function readTally(file = tallyFile()): Tally {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const entries = lines.map((l) => JSON.parse(l) as TallyEntry);
  const injected = entries.filter((e) => e.kind === 'fault' && e.event === 'injected').map((e) => e.name);
  const survived = new Set(entries.filter((e) => e.kind === 'fault' && e.event === 'survived').map((e) => e.name));
  return {
    injected: injected.length,
    survived: injected.filter((n) => survived.has(n)).length,
    badInputs: entries.filter((e) => e.kind === 'bad-input').length,
    bytesLost: entries.reduce((sum, e) => sum + (e.kind === 'bytes-lost' ? e.bytes : 0), 0),
    notSurvived: injected.filter((n) => !survived.has(n)),
  };
}

export function summaryLine(t: Tally): string {
  return `faults: ${t.injected} injected, ${t.survived} survived with the right report, bad inputs: ${t.badInputs} tried, bytes lost: ${t.bytesLost}`;
}

/** Removes tally files of runs whose runner is gone (a run that was killed never printed its summary). */
export function removeStaleTallies(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = new RegExp(`^${PREFIX}(\\d+)\\.jsonl$`).exec(name);
    if (m && Number(m[1]) !== runId() && !fs.existsSync(`/proc/${m[1]}`)) fs.rmSync(path.join(os.tmpdir(), name), { force: true });
  }
}
