import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ReadPace, SLOW_READ_MS } from './read-pace';

/**
 * The rule that moves a reader of many pieces from reading them one after
 * the other (cached) to reading ahead (on the disk) and back. A slow read is
 * made by waiting well past SLOW_READ_MS; a fast one does nothing.
 */

const slowRead = (): number => {
  const until = performance.now() + SLOW_READ_MS * 10;
  while (performance.now() < until);
  return 1;
};
const fastRead = (): number => 1;

function batch(pace: ReadPace, read: () => number, n = 64): void {
  for (let i = 0; i < n; i++) pace.timed(read);
}

test('cached reads keep a reader reading one piece after the other', () => {
  const pace = new ReadPace();
  assert.equal(pace.nextAhead(), false, 'the first batch is read one by one');
  for (let b = 0; b < 20; b++) {
    batch(pace, fastRead);
    assert.equal(pace.nextAhead(), false, `batch ${b + 2}`);
  }
});

test('a batch mostly read slowly makes the next 8 read ahead, then one is read one by one to look again', () => {
  const pace = new ReadPace();
  pace.nextAhead();
  batch(pace, slowRead, 16);
  for (let b = 0; b < 8; b++) assert.equal(pace.nextAhead(), true, `batch ${b + 1} after the slow one is read ahead`);
  assert.equal(pace.nextAhead(), false, 'then one batch is read one by one');
  batch(pace, slowRead, 16);
  assert.equal(pace.nextAhead(), true, 'still slow: ahead again');
  for (let b = 0; b < 7; b++) pace.nextAhead();
  assert.equal(pace.nextAhead(), false);
  batch(pace, fastRead);
  assert.equal(pace.nextAhead(), false, 'cached by now: one by one from here on');
});

test('a few slow reads (a preempted thread) or too few reads do not switch', () => {
  const pace = new ReadPace();
  pace.nextAhead();
  batch(pace, fastRead, 56);
  batch(pace, slowRead, 8);
  assert.equal(pace.nextAhead(), false, '8 of 64 slow');
  batch(pace, slowRead, 7);
  assert.equal(pace.nextAhead(), false, 'a batch of 7 reads says too little');
});

test('a reader asked to always read ahead does', () => {
  const pace = new ReadPace(true);
  for (let b = 0; b < 12; b++) {
    batch(pace, fastRead);
    assert.equal(pace.nextAhead(), true);
  }
});
