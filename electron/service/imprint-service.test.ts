import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Drive } from '../../shared/drive';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { OS_IMAGE_SIZE, imageIn, osImage } from '../engine/testing/image-fixtures';
import { createLoopDevice, firstDeviceDifference, removeLoopDevice, withLoopDevice, withLoopDevices, type LoopDevice } from '../engine/testing/loop-device';
import { ImprintService, defaultCliScript, type ServiceEvent } from './imprint-service';

/** Waits for the first event `pick` accepts. The bound only stops a broken test from hanging; it is not a measurement. */
function nextEvent<T>(service: ImprintService, pick: (e: ServiceEvent) => T | undefined, boundMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no such event arrived'));
    }, boundMs);
    const off = service.subscribe((e) => {
      const v = pick(e);
      if (v !== undefined) {
        clearTimeout(timer);
        off();
        resolve(v);
      }
    });
  });
}

/** Every job event of `jobId` until its job-finished. */
function collectJob(service: ImprintService, jobId: () => string | undefined): { events: JobEvent[]; finished: Promise<JobFinishedEvent> } {
  const events: JobEvent[] = [];
  const finished = nextEvent(service, (e) => {
    if (e.event !== 'onJobEvent') return undefined;
    events.push(e.payload);
    return e.payload.type === 'job-finished' && e.payload.jobId === jobId() ? e.payload : undefined;
  });
  return { events, finished };
}

async function withService<T>(fn: (s: ImprintService) => Promise<T>, opts: ConstructorParameters<typeof ImprintService>[0] = {}): Promise<T> {
  const service = new ImprintService({ log: () => undefined, ...opts });
  try {
    return await fn(service);
  } finally {
    await service.dispose();
  }
}

const devices = (drives: Drive[]): string[] => drives.map((d) => d.device);

test('listDrives lists a loop device the test attached', async () => {
  await withService(async (s) => {
    await withLoopDevice(1 << 20, async (loop) => {
      const r = await s.call('listDrives', {});
      assert.ok(r.ok);
      assert.ok(devices(r.value).includes(loop.device), `${loop.device} in ${devices(r.value).join(' ')}`);
    });
  });
});

test('a drive attached or removed is announced by onDrivesChanged', async () => {
  await withService(
    async (s) => {
      await s.call('listDrives', {});
      let loop: LoopDevice | null = null;
      try {
        const appeared = nextEvent(s, (e) => (e.event === 'onDrivesChanged' && loop && devices(e.payload).includes(loop.device) ? e.payload : undefined));
        loop = await createLoopDevice(1 << 20);
        await appeared;
        const device = loop.device;
        const gone = nextEvent(s, (e) => (e.event === 'onDrivesChanged' && !devices(e.payload).includes(device) ? e.payload : undefined));
        await removeLoopDevice(loop);
        loop = null;
        await gone;
      } finally {
        if (loop) await removeLoopDevice(loop);
      }
    },
    { drivePollMs: 300 },
  );
});

test('inspectImage reports format, sizes and the partition table, through decompression', async () => {
  await withService(async (s) => {
    const raw = await s.call('inspectImage', { path: osImage('dos') });
    assert.ok(raw.ok);
    assert.deepEqual({ ...raw.value, path: '' }, { path: '', name: 'os-dos.img', format: 'raw', formatLabel: raw.value.formatLabel, fileSize: OS_IMAGE_SIZE, size: OS_IMAGE_SIZE, minSize: null, sizeNote: null, partitionTable: 'mbr' });
    const xz = await s.call('inspectImage', { path: imageIn('xz', 'gpt') });
    assert.ok(xz.ok);
    assert.equal(xz.value.format, 'xz');
    assert.equal(xz.value.size, OS_IMAGE_SIZE);
    assert.ok(xz.value.fileSize < OS_IMAGE_SIZE);
    assert.equal(xz.value.partitionTable, 'gpt');
    const gz = await s.call('inspectImage', { path: imageIn('gz') });
    assert.ok(gz.ok);
    assert.equal(gz.value.size, null, 'gzip cannot state its size');
    assert.equal(gz.value.partitionTable, 'mbr');
    const zip = await s.call('inspectImage', { path: imageIn('zip', 'gpt') });
    assert.ok(zip.ok);
    assert.match(zip.value.formatLabel, /os\.img/);
    assert.equal(zip.value.partitionTable, 'gpt');
    const missing = await s.call('inspectImage', { path: '/nonexistent/os.img' });
    assert.deepEqual(missing.ok ? null : missing.error.code, 'E_SOURCE_NOT_FOUND');
  });
});

test('startFlash answers a job id at once; every event carries it, ending in a verified target', async () => {
  await withService(async (s) => {
    await withLoopDevice(OS_IMAGE_SIZE + (1 << 20), async (loop) => {
      let jobId: string | undefined = undefined;
      const job = collectJob(s, () => jobId);
      const r = await s.call('startFlash', { image: imageIn('xz'), targets: [loop.device], verify: true });
      assert.ok(r.ok, JSON.stringify(r));
      jobId = r.value.jobId;
      const done = await job.finished;
      assert.equal(done.ok, true, JSON.stringify(done.error));
      assert.equal(job.events[0]?.type, 'job-started', 'the first event follows the answer');
      assert.ok(job.events.every((e) => e.jobId === jobId));
      assert.deepEqual(done.targets.map((t) => [t.device, t.status]), [[loop.device, 'verified']]);
      assert.equal(firstDeviceDifference(loop.device, osImage()), -1);
      assert.deepEqual(s.runningJobs, []);
      // A client that reconnects now learns the job's start, last progress and end.
      const snap = await s.call('jobSnapshots', {});
      assert.ok(snap.ok);
      const mine = snap.value.filter((e) => e.jobId === jobId);
      assert.deepEqual(mine.map((e) => e.type), ['job-started', 'progress', 'job-finished']);
      assert.deepEqual(mine[1], job.events.filter((e) => e.type === 'progress').at(-1), 'the latest progress');
      assert.deepEqual(mine[2], done);
    });
  });
});

test('refusals come back as the call\'s error, before any job exists', async () => {
  await withService(async (s) => {
    await withLoopDevice(1 << 20, async (loop) => {
      const events: ServiceEvent[] = [];
      s.subscribe((e) => e.event === 'onJobEvent' && events.push(e));
      const r = await s.call('startFlash', { image: osImage(), targets: [loop.device], verify: true });
      assert.equal(r.ok, false);
      assert.equal(r.ok ? null : r.error.code, 'E_TARGET_TOO_SMALL');
      assert.deepEqual(s.runningJobs, []);
      assert.deepEqual(events, []);
    });
  });
});

test('a second job on a drive that is being written is refused as busy; cancelling ends the first', async () => {
  await withService(async (s) => {
    await withLoopDevices([{ size: OS_IMAGE_SIZE }, { size: OS_IMAGE_SIZE }], async ([a, b]) => {
      if (!a || !b) throw new Error('two loops expected');
      const first = await s.call('startFlash', { image: imageIn('bz2'), targets: [a.device], verify: true });
      assert.ok(first.ok);
      const busy = await s.call('startFlash', { image: osImage(), targets: [b.device, a.device], verify: true });
      assert.equal(busy.ok ? null : busy.error.code, 'E_TARGET_BUSY');
      // Cancelled before its first event (the job starts on the next turn): deterministic.
      const cancel = await s.call('cancelJob', { jobId: first.value.jobId });
      assert.deepEqual(cancel, { ok: true, value: null });
      const done = await s.jobDone(first.value.jobId);
      assert.equal(done?.ok, false);
      assert.equal(done?.error?.code, 'E_CANCELLED');
      // Cancelling a job that has ended is harmless; an id never seen is an error.
      assert.deepEqual(await s.call('cancelJob', { jobId: first.value.jobId }), { ok: true, value: null });
      const unknown = await s.call('cancelJob', { jobId: 'f00d' });
      assert.equal(unknown.ok ? null : unknown.error.code, 'E_BAD_ARGUMENTS');
    });
  });
});

test('without the right to open the drive, the job runs in the helper and looks the same (env(1) standing in for pkexec)', async (t) => {
  t.diagnostic('pkexec itself cannot be exercised here; the service\'s helper route runs the real CLI through env(1) instead.');
  await withService(
    async (s) => {
      await withLoopDevice(OS_IMAGE_SIZE, async (loop) => {
        let jobId: string | undefined = undefined;
        const job = collectJob(s, () => jobId);
        const r = await s.call('startFlash', { image: imageIn('zst'), targets: [loop.device], verify: true });
        assert.ok(r.ok, JSON.stringify(r));
        jobId = r.value.jobId;
        const done = await job.finished;
        assert.equal(done.ok, true, JSON.stringify(done.error));
        assert.deepEqual(job.events.filter((e) => e.type === 'job-started').length, 1);
        assert.ok(job.events.every((e) => e.jobId === jobId));
        assert.ok(job.events.some((e) => e.type === 'progress' && e.phase === 'writing'));
        assert.deepEqual(done.targets.map((t) => [t.device, t.status]), [[loop.device, 'verified']]);
        assert.equal(firstDeviceDifference(loop.device, osImage()), -1);
      });
    },
    { needsHelper: () => true, helper: { elevator: '/usr/bin/env', execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() } },
  );
});

/** Backs up `source` to `output` and restores it onto `target` through the service; returns the finished events. */
async function backupAndRestore(s: ImprintService, source: string, output: string, target: string): Promise<{ backup: JobFinishedEvent; restore: JobFinishedEvent }> {
  let backupId: string | undefined = undefined;
  const backupJob = collectJob(s, () => backupId);
  const b = await s.call('startBackup', { device: source, output, compression: 'zstd' });
  assert.ok(b.ok, JSON.stringify(b));
  backupId = b.value.jobId;
  const backup = await backupJob.finished;
  assert.ok(backupJob.events.filter((e) => e.jobId === backupId).every((e) => e.type !== 'job-started' || e.kind === 'backup'));
  let restoreId: string | undefined = undefined;
  const restoreJob = collectJob(s, () => restoreId);
  const r = await s.call('startRestore', { backup: output, targets: [target], verify: true });
  assert.ok(r.ok, JSON.stringify(r));
  restoreId = r.value.jobId;
  return { backup, restore: await restoreJob.finished };
}

test('backup, inspectBackup and restore run the engine\'s jobs: the restored drive equals the original', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-service-backup-'));
  try {
    await withService(async (s) => {
      await withLoopDevices([{ size: OS_IMAGE_SIZE, opts: { content: fs.readFileSync(osImage()) } }, { size: OS_IMAGE_SIZE }], async ([source, target]) => {
        if (!source || !target) throw new Error('two loops expected');
        // What the backup will store, per partition, before it starts.
        const plan = await s.call('planBackup', { device: source.device });
        assert.ok(plan.ok && plan.value, JSON.stringify(plan));
        assert.equal(plan.value.mode, 'used-blocks');
        assert.ok(plan.value.partitions.length > 0 && plan.value.storedBytes < OS_IMAGE_SIZE, JSON.stringify(plan.value.partitions));
        const whole = await s.call('planBackup', { device: source.device, sectorBySector: true });
        assert.equal(whole.ok && whole.value?.storedBytes, OS_IMAGE_SIZE);
        const output = path.join(dir, 'drive.img.zst');
        const { backup, restore } = await backupAndRestore(s, source.device, output, target.device);
        assert.equal(backup.ok, true, JSON.stringify(backup.error));
        const details = await s.call('inspectBackup', { path: output });
        assert.ok(details.ok, JSON.stringify(details));
        assert.equal(details.value.sourceSize, OS_IMAGE_SIZE);
        assert.match(details.value.sha256 ?? '', /^[0-9a-f]{64}$/);
        assert.equal(details.value.partitionTable, 'mbr');
        assert.equal(restore.ok, true, JSON.stringify(restore.error));
        assert.deepEqual(restore.targets.map((t) => [t.device, t.status]), [[target.device, 'verified']]);
        assert.equal(firstDeviceDifference(target.device, osImage()), -1);
        const notBackup = await s.call('startRestore', { backup: osImage(), targets: [target.device], verify: true });
        assert.equal(notBackup.ok ? null : notBackup.error.code, 'E_NOT_A_BACKUP');
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('backup and restore through the helper when the drives need root (env(1) standing in for pkexec)', async (t) => {
  t.diagnostic('pkexec itself cannot be exercised here; the helper route runs the real CLI through env(1) instead.');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-service-backup-'));
  const asked: string[] = [];
  try {
    await withService(
      async (s) => {
        await withLoopDevices([{ size: OS_IMAGE_SIZE, opts: { content: fs.readFileSync(osImage('gpt')) } }, { size: OS_IMAGE_SIZE }], async ([source, target]) => {
          if (!source || !target) throw new Error('two loops expected');
          const output = path.join(dir, 'drive.img.zst');
          const { backup, restore } = await backupAndRestore(s, source.device, output, target.device);
          assert.equal(backup.ok, true, JSON.stringify(backup.error));
          assert.equal(restore.ok, true, JSON.stringify(restore.error));
          assert.equal(firstDeviceDifference(target.device, osImage('gpt')), -1);
          assert.deepEqual(asked, [`read ${source.device}`, `write ${target.device}`]);
        });
      },
      {
        needsHelper: (devices, mode) => {
          asked.push(`${mode} ${devices.join(' ')}`);
          return true;
        },
        helper: { elevator: '/usr/bin/env', execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() },
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('dialogs: absent in browser mode (null, or an error that says so); present, they are used', async () => {
  await withService(async (s) => {
    assert.deepEqual(await s.call('chooseImage', {}), { ok: true, value: null });
    assert.deepEqual(await s.call('chooseBackupPath', { suggestedName: 'b.img' }), { ok: true, value: null });
    const reveal = await s.call('revealFile', { path: '/tmp/x.img' });
    assert.equal(reveal.ok, false);
    assert.match(reveal.ok ? '' : reveal.error.message, /not available in browser mode/);
  });
  const revealed: string[] = [];
  await withService(
    async (s) => {
      assert.deepEqual(await s.call('chooseImage', {}), { ok: true, value: '/picked.img' });
      assert.deepEqual(await s.call('chooseBackupPath', { suggestedName: 'b.img' }), { ok: true, value: '/backups/b.img' });
      assert.deepEqual(await s.call('revealFile', { path: '/tmp/x.img' }), { ok: true, value: null });
    },
    {
      dialogs: {
        chooseImage: async () => '/picked.img',
        chooseBackupPath: async (name) => `/backups/${name}`,
        revealFile: async (p) => void revealed.push(p),
      },
    },
  );
  assert.deepEqual(revealed, ['/tmp/x.img']);
});

test('after dispose, calls are refused as data', async () => {
  const s = new ImprintService({ log: () => undefined });
  await s.dispose();
  const r = await s.call('listDrives', {});
  assert.equal(r.ok, false);
});
