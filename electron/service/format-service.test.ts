import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { MiB, pseudoRandom } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice } from '../engine/testing/loop-device';
import { ImprintService } from './imprint-service';
import { formatCliArgs } from './privileged-helper';

/** The app's Format action: one contract call (startFormat), the service runs format-job.ts and reports like any job. */

test('startFormat formats a loop device as a job; a bad label is the call\'s error and nothing is touched', async () => {
  const s = new ImprintService({ listDrives: async () => [], log: () => undefined });
  try {
    const old = pseudoRandom(48 * MiB, 'format service');
    await withLoopDevice(48 * MiB, async (loop) => {
      const bad = await s.call('startFormat', { drive: loop.device, label: 'no/slash.ok' });
      assert.equal(bad.ok ? null : bad.error.code, 'E_BAD_ARGUMENTS');
      assert.equal(firstDeviceDifference(loop.device, old), -1, 'refused, yet written');

      const events: JobEvent[] = [];
      let resolve: (e: JobFinishedEvent) => void = () => undefined;
      const finished = new Promise<JobFinishedEvent>((r) => (resolve = r));
      const unsubscribe = s.subscribe((e) => {
        if (e.event !== 'onJobEvent') return;
        events.push(e.payload);
        if (e.payload.type === 'job-finished') resolve(e.payload);
      });
      const r = await s.call('startFormat', { drive: loop.device, filesystem: 'exfat', label: 'Service' });
      assert.ok(r.ok, JSON.stringify(r));
      const done = await finished;
      unsubscribe();
      assert.equal(done.ok, true, JSON.stringify(done.error));
      assert.equal(done.jobId, r.value.jobId);
      assert.ok(events.some((e) => e.type === 'job-started' && e.kind === 'format'));
      const part = `${loop.device}p1`;
      assert.equal(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', part], { encoding: 'utf8' }).trim(), 'exfat');
      assert.equal(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'LABEL', part], { encoding: 'utf8' }).trim(), 'Service');
      assert.deepEqual(s.runningJobs, []);
    }, { content: old });
  } finally {
    await s.dispose();
  }
});

test('through the privileged helper the request becomes fixed argv, an option-like label stays a value', () => {
  assert.deepEqual(formatCliArgs({ drive: '/dev/sdz' }), ['format', '--yes', '--json', '--stdin-cancel', '--', '/dev/sdz']);
  assert.deepEqual(formatCliArgs({ drive: '/dev/sdz', filesystem: 'exfat', label: '--yes' }), ['format', '--yes', '--json', '--stdin-cancel', '--fs=exfat', '--label=--yes', '--', '/dev/sdz']);
});
