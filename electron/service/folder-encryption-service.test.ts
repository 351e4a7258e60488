import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobFinishedEvent } from '../../shared/job-events';
import { validateRequest } from '../../shared/ipc-schemas';
import { isEncryptedFolder } from '../engine/formats/backup-folder/folder-keys';
import { firstDeviceDifference, withLoopDevices } from '../engine/testing/loop-device';
import { ImprintService, defaultCliScript, type ServiceEvent } from './imprint-service';
import { FolderUnlocks, UNLOCK_IDLE_MS, passphraseFile, withOptions } from './folder-unlocks';

/**
 * Encrypted backup folders through the app's service (issue 15): a real FAT
 * drive on a loop device is backed up into a new encrypted folder, found
 * encrypted and locked, unlocked (a wrong passphrase refused with the
 * engine's message), added to, and a generation restored through the unlock
 * handle, in-process and through the privileged helper (env(1) standing in
 * for pkexec). The passphrase must never appear in an event, a log line or
 * an error; the helper's passphrase file must be gone when it ends.
 */

const MiB = 1024 * 1024;
const DRIVE = 16 * MiB;
const PASS = 'correct horse battery staple 7';
const WRONG = 'correct horse battery staple 8';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-enc-service-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A 16 MiB drive image: one FAT partition (made by sfdisk and mkfs.vfat) holding a 2 MiB random file. */
let image: Buffer;
before(() => {
  const file = path.join(root, 'drive.img');
  fs.writeFileSync(file, Buffer.alloc(DRIVE));
  execFileSync('sfdisk', ['--quiet', file], { input: 'label: dos\nstart=2048, type=c\n' });
  execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'SECRET', file, String((DRIVE - MiB) / 1024)], { stdio: 'ignore' });
  const data = path.join(root, 'data.bin');
  fs.writeFileSync(data, randomBytes(2 * MiB));
  execFileSync('mcopy', ['-i', `${file}@@${MiB}`, data, '::/data.bin']);
  image = fs.readFileSync(file);
});

/** Runs a job to its end, keeping every event the service sent meanwhile. */
async function runJob(s: ImprintService, start: () => Promise<{ ok: boolean; value?: { jobId: string }; error?: unknown }>, seen: ServiceEvent[]): Promise<JobFinishedEvent> {
  const r = await start();
  assert.equal(r.ok, true, JSON.stringify(r.error));
  const done = s.jobDone((r.value as { jobId: string }).jobId);
  assert.ok(done, 'the job is known');
  const finished = await done;
  assert.ok(seen.length > 0);
  return finished;
}

function withService(fn: (s: ImprintService, seen: ServiceEvent[], logged: string[]) => Promise<void>, opts: ConstructorParameters<typeof ImprintService>[0] = {}): Promise<void> {
  const logged: string[] = [];
  const s = new ImprintService({ log: (m) => void logged.push(m), drivePollMs: 60_000, listDrives: async () => [], ...opts });
  const seen: ServiceEvent[] = [];
  s.subscribe((e) => void seen.push(e));
  return fn(s, seen, logged).finally(() => s.dispose());
}

/** Neither passphrase appears in anything the service said or logged. */
function assertNoSecret(what: string, values: unknown): void {
  const text = JSON.stringify(values);
  assert.ok(!text.includes(PASS) && !text.includes(WRONG), `${what} does not hold the passphrase`);
}

test('back up into a new encrypted folder, unlock it (a wrong passphrase refused), add to it, restore a generation: bytes equal, no secret said', async () => {
  const folder = path.join(root, 'enc');
  await withLoopDevices([{ size: DRIVE, opts: { content: image } }, { size: DRIVE, opts: { content: Buffer.alloc(DRIVE, 0xaa) } }], async ([source, target]) => {
    if (!source || !target) throw new Error('two loops expected');
    await withService(async (s, seen, logged) => {
      const errors: unknown[] = [];
      // A new encrypted folder without a passphrase: refused in the app's words, nothing made.
      const none = await s.call('startFolderBackup', { device: source.device, folder, encrypt: true });
      assert.equal(none.ok, false);
      if (!none.ok) assert.equal(none.error.code, 'E_PASSPHRASE_NEEDED');
      if (!none.ok) assert.doesNotMatch(none.error.message, /--passphrase/);
      assert.equal(fs.existsSync(folder), false);

      const first = await runJob(s, () => s.call('startFolderBackup', { device: source.device, folder, encrypt: true, passphrase: PASS }), seen);
      assert.equal(first.ok, true, JSON.stringify(first.error));
      assert.equal(isEncryptedFolder(folder), true, 'the engine made an encrypted folder');

      // Inspected without a passphrase: a backup folder, encrypted, nothing listed.
      const locked = await s.call('inspectBackupFolder', { path: folder });
      assert.deepEqual(locked, { ok: true, value: { path: folder, state: 'backup-folder', generations: [], encrypted: true } });

      // Adding to it: without its passphrase, or with a wrong one, refused before anything is read or written.
      const held = fs.readdirSync(folder, { recursive: true }).sort();
      const noPass = await s.call('startFolderBackup', { device: source.device, folder });
      assert.equal(noPass.ok ? '' : noPass.error.code, 'E_PASSPHRASE_NEEDED');
      const wrongAdd = await s.call('startFolderBackup', { device: source.device, folder, passphrase: WRONG });
      assert.equal(wrongAdd.ok ? '' : wrongAdd.error.code, 'E_WRONG_PASSPHRASE');
      errors.push(noPass, wrongAdd);
      assert.deepEqual(fs.readdirSync(folder, { recursive: true }).sort(), held, 'no file made or removed (no lock, no temporary piece)');
      const second = await runJob(s, () => s.call('startFolderBackup', { device: source.device, folder, passphrase: PASS }), seen);
      assert.equal(second.ok, true, JSON.stringify(second.error));

      // Unlocking: the wrong passphrase gets the engine's message, the right one the list and a handle.
      const wrong = await s.call('unlockBackupFolder', { path: folder, passphrase: WRONG });
      assert.equal(wrong.ok, false);
      if (!wrong.ok) {
        assert.equal(wrong.error.code, 'E_WRONG_PASSPHRASE');
        assert.match(wrong.error.message, /^Wrong passphrase for the encrypted backup folder/);
      }
      errors.push(wrong);
      const opened = await s.call('unlockBackupFolder', { path: folder, passphrase: PASS });
      assert.ok(opened.ok, JSON.stringify(opened));
      const { info, unlock } = opened.value;
      assert.equal(info.encrypted, true);
      assert.deepEqual(info.generations.map((g) => g.number), [1, 2]);
      assert.ok(info.generations.every((g) => g.error === undefined && g.size === DRIVE), 'both generations read with the passphrase');
      assert.ok(!unlock.includes(PASS));
      const ref = `${folder}#${info.generations[0]?.id}`;

      // A generation's details: refused without the handle (in the app's words), read with it.
      const bare = await s.call('inspectBackup', { path: ref });
      assert.equal(bare.ok ? '' : bare.error.code, 'E_PASSPHRASE_NEEDED');
      assert.doesNotMatch(bare.ok ? '' : bare.error.message, /--passphrase/);
      const forged = await s.call('inspectBackup', { path: ref, unlock: 'f'.repeat(32) });
      assert.equal(forged.ok ? '' : forged.error.code, 'E_PASSPHRASE_NEEDED', 'a handle main did not make opens nothing');
      errors.push(bare, forged);
      const details = await s.call('inspectBackup', { path: ref, unlock });
      assert.ok(details.ok, JSON.stringify(details));
      assert.equal(details.value.format, 'backup-folder');
      assert.match(details.value.name, /generation 1$/);

      const restored = await runJob(s, () => s.call('startRestore', { backup: ref, targets: [target.device], verify: true, wipeFreeSpace: true, unlock }), seen);
      assert.equal(restored.ok, true, JSON.stringify(restored.error));
      assert.equal(firstDeviceDifference(target.device, image), -1, 'the target equals the drive backed up');

      assertNoSecret('every event', seen);
      assertNoSecret('the log', logged);
      assertNoSecret('the refusals', errors);
    });
  });
});

test('through the privileged helper: the CLI gets the passphrase in a private file, deleted when it ends', async (t) => {
  t.diagnostic("pkexec itself cannot be exercised here; the service's helper route runs the real CLI through env(1) instead.");
  const folder = path.join(root, 'enc-helper');
  const runtime = fs.mkdtempSync(path.join(root, 'runtime-'));
  const before = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = runtime;
  try {
    await withLoopDevices([{ size: DRIVE, opts: { content: image } }, { size: DRIVE, opts: { content: Buffer.alloc(DRIVE, 0x55) } }], async ([source, target]) => {
      if (!source || !target) throw new Error('two loops expected');
      await withService(
        async (s, seen, logged) => {
          const made = await runJob(s, () => s.call('startFolderBackup', { device: source.device, folder, encrypt: true, passphrase: PASS }), seen);
          assert.equal(made.ok, true, JSON.stringify(made.error));
          assert.equal(isEncryptedFolder(folder), true);
          assert.deepEqual(fs.readdirSync(runtime), [], 'the passphrase file is gone');
          const opened = await s.call('unlockBackupFolder', { path: folder, passphrase: PASS });
          assert.ok(opened.ok, JSON.stringify(opened));
          const ref = `${folder}#${opened.value.info.generations[0]?.id}`;
          const restored = await runJob(s, () => s.call('startRestore', { backup: ref, targets: [target.device], verify: true, wipeFreeSpace: true, unlock: opened.value.unlock }), seen);
          assert.equal(restored.ok, true, JSON.stringify(restored.error));
          assert.equal(firstDeviceDifference(target.device, image), -1);
          assert.deepEqual(fs.readdirSync(runtime), []);
          assertNoSecret('every event', seen);
          assertNoSecret('the log', logged);
        },
        { needsHelper: () => true, helper: { elevator: '/usr/bin/env', execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() } },
      );
    });
  } finally {
    if (before === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = before;
  }
});

test('an unlock handle is good for its folder only, and is forgotten after its idle time', () => {
  let now = 0;
  const unlocks = new FolderUnlocks(() => now);
  const h = unlocks.grant('/b/enc', PASS);
  assert.match(h, /^[0-9a-f]{32}$/);
  assert.equal(unlocks.passphraseFor(undefined, '/b/enc'), undefined, 'no handle: no passphrase (a plain folder)');
  assert.equal(unlocks.passphraseFor(h, '/b/enc/'), PASS);
  assert.throws(() => unlocks.passphraseFor(h, '/b/other'), /no longer holds the passphrase of \/b\/other/);
  now += UNLOCK_IDLE_MS - 1;
  assert.equal(unlocks.passphraseFor(h, '/b/enc'), PASS, 'each use keeps it');
  now += UNLOCK_IDLE_MS + 1;
  assert.throws(() => unlocks.passphraseFor(h, '/b/enc'), (e: Error) => e.message.includes('type it again') && !e.message.includes(PASS));
});

test('the passphrase file is private and goes before "--"; the schemas never quote a passphrase', () => {
  const secret = passphraseFile(PASS);
  try {
    const file = secret.args[1] as string;
    assert.equal(fs.readFileSync(file, 'utf8'), PASS);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.deepEqual(withOptions(['restore', '--yes', '--', '/b#1', '/dev/sdb'], secret.args), ['restore', '--yes', '--passphrase-file', file, '--', '/b#1', '/dev/sdb']);
  } finally {
    secret.dispose();
  }
  assert.equal(fs.existsSync(secret.args[1] as string), false);
  const long = 'x'.repeat(2000);
  for (const bad of [
    validateRequest('unlockBackupFolder', { path: '/b', passphrase: long }),
    validateRequest('unlockBackupFolder', { path: '/b', passphrase: 7 }),
    validateRequest('startFolderBackup', { device: '/dev/sdb', folder: '/b', passphrase: long }),
  ]) {
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.ok(!bad.error.message.includes('xxxx'), bad.error.message);
  }
  assert.equal(validateRequest('unlockBackupFolder', { path: '/b', passphrase: '' }).ok, false, 'an empty passphrase is refused');
  assert.equal(validateRequest('startRestore', { backup: '/b#1', targets: ['/dev/sdb'], verify: true, unlock: 'not-a-handle' }).ok, false);
});
