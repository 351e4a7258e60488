// Runs last in the fault bench (npm run test:faults runs files in name order;
// npm test runs it after all others, scripts/run-tests.mjs): adds up what every
// fault test file reported (fault-tally.ts) and prints the bench's figures.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { readTally, removeStaleTallies, summaryLine, tallyFile } from './fault-tally';

test('fault bench summary: every injected fault got the right report, no readable byte lost', (t) => {
  const file = tallyFile();
  if (!fs.existsSync(file)) return t.skip('no fault test ran in this run (run the whole folder: npm run test:faults)');
  const tally = readTally(file);
  removeStaleTallies();
  fs.rmSync(file, { force: true });
  console.log(summaryLine(tally));
  assert.deepEqual(tally.notSurvived, [], 'faults without the right report');
  assert.equal(tally.bytesLost, 0, 'readable bytes the rescue or backup failed to save');
});
