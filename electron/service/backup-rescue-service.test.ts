// The app's "rescue what can be read?": startBackup on a real drive with
// unreadable sectors (a faulty loop device, electron/engine/testing) fails
// with E_BAD_SECTOR; with `rescue: true` it saves what can be read and says
// how much is lost and where, as `imprint backup --rescue` does.
import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackupRequest } from '../../shared/ipc-contract';
import { detailsOf, type JobEvent, type JobFinishedEvent } from '../../shared/job-events';
import { faultToolsAvailable, withFaultyDevice } from '../engine/testing/faulty-device';
import { pseudoRandom } from '../engine/testing/image-fixtures';
import { ImprintService, defaultCliScript } from './imprint-service';

const MiB = 1 << 20;
const SIZE = 16 * MiB;
/** Two bad areas: 2 KiB in the second 4 MiB chunk, and one sector further on. */
const BAD = [
  { offset: 6 * MiB + 1024, length: 2048 },
  { offset: 13 * MiB + 7 * 512, length: 512 },
];
const CONTENT = pseudoRandom(SIZE, 'service rescue source');
/** Bounds a broken test only (a faulty device that hangs); not a measurement. */
const TEST_BOUND_MS = 120_000;

function canRun(t: TestContext): boolean {
  const tools = faultToolsAvailable();
  if (!tools.ok) t.skip(`faulty-device harness unavailable, missing: ${tools.missing.join(', ')}`);
  return tools.ok;
}

/** Starts a backup and collects its events until its (first) job-finished. */
async function runBackupJob(s: ImprintService, req: BackupRequest): Promise<{ finished: JobFinishedEvent; events: JobEvent[] }> {
  const events: JobEvent[] = [];
  let jobId: string | undefined;
  let resolveFinished: (e: JobFinishedEvent) => void = () => undefined;
  const finished = new Promise<JobFinishedEvent>((resolve) => (resolveFinished = resolve));
  const off = s.subscribe((e) => {
    if (e.event !== 'onJobEvent') return;
    events.push(e.payload);
    if (e.payload.type === 'job-finished' && e.payload.jobId === jobId) resolveFinished(e.payload);
  });
  try {
    const r = await s.call('startBackup', req);
    assert.ok(r.ok, JSON.stringify(r));
    jobId = r.value.jobId;
    // The service starts a job on the next turn, after this answer: none of its events were missed.
    const done = await finished;
    return { finished: done, events: events.filter((e) => e.jobId === jobId) };
  } finally {
    off();
  }
}

/** In-process, or through the privileged helper's route (env(1) standing in for pkexec, running the real CLI). */
async function withService<T>(fn: (s: ImprintService) => Promise<T>, viaHelper = false): Promise<T> {
  const service = new ImprintService({
    log: () => undefined,
    listDrives: async () => [],
    needsHelper: () => viaHelper,
    helper: { elevator: '/usr/bin/env', execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() },
  });
  try {
    return await fn(service);
  } finally {
    await service.dispose();
  }
}

test('startBackup of a drive with unreadable sectors: E_BAD_SECTOR, nothing left; with rescue: every readable byte, lost bytes and bad areas reported', { timeout: TEST_BOUND_MS }, async (t) => {
  if (!canRun(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-service-rescue-'));
  try {
    await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
      await withService(async (s) => {
        const output = path.join(dir, 'disk.img.zst');
        const plain = await runBackupJob(s, { device: d.device, output, compression: 'zstd' });
        assert.equal(plain.finished.ok, false);
        assert.equal(plain.finished.error?.code, 'E_BAD_SECTOR', JSON.stringify(plain.finished.error));
        assert.equal(plain.finished.error?.offset, BAD[0]?.offset);
        assert.deepEqual(fs.readdirSync(dir), [], 'a failed backup left a file');

        const rescue = await runBackupJob(s, { device: d.device, output, compression: 'zstd', rescue: true });
        assert.deepEqual(rescue.events.filter((e) => e.type === 'job-started').map((e) => e.type === 'job-started' && e.kind), ['backup', 'rescue']);
        assert.ok(rescue.events.some((e) => e.type === 'warning' && /unreadable sectors: rescuing/.test(e.message)));
        // The first job-finished is the rescue's: the backup's failure did not end the job.
        const { finished } = rescue;
        const badBytes = BAD.reduce((n, b) => n + b.length, 0);
        assert.equal(finished.ok, false, 'bytes were lost: no success');
        assert.equal(finished.error?.code, 'E_BAD_SECTOR');
        assert.equal(detailsOf(finished, 'rescue')?.lostBytes, badBytes);
        assert.equal(detailsOf(finished, 'rescue')?.rescuedBytes, SIZE - badBytes);
        assert.deepEqual(detailsOf(finished, 'rescue')?.badAreas, BAD);
        const rescued = path.join(dir, 'disk.img');
        assert.equal(detailsOf(finished, 'rescue')?.output, rescued);
        assert.deepEqual(fs.readdirSync(dir).sort(), ['disk.img', 'disk.img.map']);
        const got = fs.readFileSync(rescued);
        assert.equal(got.length, SIZE);
        const isBad = (i: number) => BAD.some((b) => i >= b.offset && i < b.offset + b.length);
        let wrong = 0;
        for (let i = 0; i < SIZE; i++) if ((isBad(i) ? 0 : CONTENT[i]) !== got[i]) wrong++;
        assert.equal(wrong, 0, 'readable bytes equal the drive, unreadable ones are zeros');
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('startBackup with rescue on a readable drive is an ordinary verified backup', { timeout: TEST_BOUND_MS }, async (t) => {
  if (!canRun(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-service-rescue-ok-'));
  try {
    await withFaultyDevice({ size: SIZE, initialContent: CONTENT }, async (d) => {
      await withService(async (s) => {
        const output = path.join(dir, 'disk.img.zst');
        const { finished, events } = await runBackupJob(s, { device: d.device, output, compression: 'zstd', rescue: true });
        assert.equal(finished.ok, true, JSON.stringify(finished.error));
        assert.ok(events.every((e) => e.type !== 'job-started' || e.kind === 'backup'), 'no rescue ran');
        assert.equal(detailsOf(finished, 'rescue')?.lostBytes, undefined);
        assert.ok(fs.existsSync(output));
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('startBackup with rescue through the helper: the CLI\'s backup failure does not end the job; the rescue\'s result does', { timeout: TEST_BOUND_MS }, async (t) => {
  if (!canRun(t)) return;
  t.diagnostic('pkexec itself cannot be exercised here; the helper route runs the real CLI through env(1) instead.');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-service-rescue-helper-'));
  try {
    await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
      await withService(async (s) => {
        const { finished, events } = await runBackupJob(s, { device: d.device, output: path.join(dir, 'disk.img.zst'), compression: 'zstd', rescue: true });
        const badBytes = BAD.reduce((n, b) => n + b.length, 0);
        assert.equal(detailsOf(finished, 'rescue')?.lostBytes, badBytes, JSON.stringify(finished));
        assert.deepEqual(detailsOf(finished, 'rescue')?.badAreas, BAD);
        assert.deepEqual(events.filter((e) => e.type === 'job-started').map((e) => e.type === 'job-started' && e.kind), ['backup', 'rescue']);
        assert.deepEqual(fs.readdirSync(dir).sort(), ['disk.img', 'disk.img.map']);
      }, true);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
