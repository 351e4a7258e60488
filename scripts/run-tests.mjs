// npm test's node:test part: every *.test.js under out/, two files at a time,
// then the files that must run after all others.
//
//   node scripts/run-tests.mjs [DIR]   (default: out)
//
// Why two at a time: most test files spend their time waiting (for a loop
// device's writes, a child process, a mount, npm), not computing, so the
// second core sat idle through most of a one-file-at-a-time run. Measured
// on these 2 cores: the whole node:test part took 18.7 min one file at a
// time and 11.75 min two at a time (1033 tests both ways). More than two
// was not tried: the tests share two cores and the loop devices' disk.
// IMPRINT_TEST_CONCURRENCY overrides it (1 gives the old serial run).
//
// Files that must come last (they add up what the others recorded) run
// alone afterwards: the fault bench's summary (electron/cli/faults/). Each
// phase is one `node --test` process; IMPRINT_TEST_RUN names the run, so the
// fault tests of phase one and the summary of phase two find the same tally.
//
// Exits 1 when any test fails, like node --test.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = process.argv[2] ?? 'out';
const concurrency = Number(process.env.IMPRINT_TEST_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`IMPRINT_TEST_CONCURRENCY must be a whole number of at least 1, not "${process.env.IMPRINT_TEST_CONCURRENCY}"`);
  process.exit(2);
}

/** Test files run after all others, one at a time. */
const LAST = [/(^|\/)zz-[^/]*\.test\.js$/];

function testFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : testFiles(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = testFiles(root).sort();
if (files.length === 0) {
  console.error(`No *.test.js files under ${root}: build first (npm run build).`);
  process.exit(1);
}
const last = files.filter((f) => LAST.some((re) => re.test(f)));
const first = files.filter((f) => !last.includes(f));

const env = { ...process.env, IMPRINT_TEST_RUN: String(process.pid) };
let failed = false;
for (const [group, n] of [[first, concurrency], [last, 1]]) {
  if (group.length === 0) continue;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${n}`, ...group], { stdio: 'inherit', env });
  if (r.status !== 0) failed = true;
  if (r.signal) {
    console.error(`node --test was stopped by ${r.signal}`);
    process.exit(1);
  }
}
process.exit(failed ? 1 : 0);
