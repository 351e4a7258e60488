import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Drive } from '../../shared/drive';
import { fakeDrive } from '../../shared/testing/drive-fixtures';
import { DriveWatcher } from './drive-watcher';

/** A watcher over a list the test controls; polls are driven by hand, so nothing here depends on time. */
function harness(): { watcher: DriveWatcher; changes: Drive[][]; errors: unknown[]; set(d: Drive[] | Error): void } {
  let current: Drive[] | Error = [];
  const changes: Drive[][] = [];
  const errors: unknown[] = [];
  const watcher = new DriveWatcher(
    async () => {
      if (current instanceof Error) throw current;
      return current;
    },
    (d) => changes.push(d),
    60_000,
    (e) => errors.push(e),
  );
  return { watcher, changes, errors, set: (d) => (current = d) };
}

test('the first listing is the baseline; later ones are reported only when they differ', async () => {
  const h = harness();
  h.set([fakeDrive({ device: '/dev/sdb' })]);
  await h.watcher.poll();
  assert.equal(h.changes.length, 0);
  await h.watcher.poll();
  assert.equal(h.changes.length, 0, 'same list, no event');
  h.set([fakeDrive({ device: '/dev/sdb' }), fakeDrive({ device: '/dev/sdc' })]);
  await h.watcher.poll();
  assert.deepEqual(h.changes.map((l) => l.map((d) => d.device)), [['/dev/sdb', '/dev/sdc']]);
  h.set([fakeDrive({ device: '/dev/sdc' })]);
  await h.watcher.poll();
  await h.watcher.poll();
  assert.deepEqual(h.changes.map((l) => l.map((d) => d.device)), [['/dev/sdb', '/dev/sdc'], ['/dev/sdc']]);
});

test('a change in any field (a drive mounted, resized) is a change', async () => {
  const h = harness();
  h.set([fakeDrive({ device: '/dev/sdb' })]);
  await h.watcher.poll();
  h.set([{ ...fakeDrive({ device: '/dev/sdb' }), mountpoints: ['/media/usb'] }]);
  await h.watcher.poll();
  h.set([fakeDrive({ device: '/dev/sdb', size: 2e9 })]);
  await h.watcher.poll();
  assert.equal(h.changes.length, 2);
});

test('a failed listing keeps the last list and is reported as an error, not as "no drives"', async () => {
  const h = harness();
  h.set([fakeDrive({ device: '/dev/sdb' })]);
  await h.watcher.poll();
  h.set(new Error('lsblk failed'));
  await h.watcher.poll();
  assert.equal(h.errors.length, 1);
  assert.equal(h.changes.length, 0);
  h.set([fakeDrive({ device: '/dev/sdb' })]);
  await h.watcher.poll();
  assert.equal(h.changes.length, 0, 'back to the same list: still no change');
});

test('a listing observed elsewhere (a client asked) updates the baseline and is announced if it differs', async () => {
  const h = harness();
  h.set([fakeDrive({ device: '/dev/sdb' })]);
  await h.watcher.poll();
  h.watcher.observe([fakeDrive({ device: '/dev/sdb' }), fakeDrive({ device: '/dev/sdd' })]);
  assert.equal(h.changes.length, 1);
  h.set([fakeDrive({ device: '/dev/sdb' }), fakeDrive({ device: '/dev/sdd' })]);
  await h.watcher.poll();
  assert.equal(h.changes.length, 1, 'the poll finds nothing new');
});

test('overlapping polls run one listing; a poll in flight at stop() reports nothing', async () => {
  let calls = 0;
  let release: (d: Drive[]) => void = () => undefined;
  const changes: Drive[][] = [];
  const watcher = new DriveWatcher(
    () => {
      calls++;
      return new Promise<Drive[]>((resolve) => (release = resolve));
    },
    (d) => changes.push(d),
    60_000,
  );
  watcher.observe([]);
  const a = watcher.poll();
  const b = watcher.poll();
  assert.equal(calls, 1);
  watcher.stop();
  release([fakeDrive({ device: '/dev/sdb' })]);
  await Promise.all([a, b]);
  assert.deepEqual(changes, []);
});
