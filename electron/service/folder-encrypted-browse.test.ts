import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobEvent } from '../../shared/job-events';
import { validateRequest } from '../../shared/ipc-schemas';
import { isEncryptedFolder } from '../engine/formats/backup-folder/folder-keys';
import { withLoopDevices } from '../engine/testing/loop-device';
import { ImprintService, type ServiceEvent } from './imprint-service';

/**
 * "Browse files" of an encrypted backup folder's generation in the app
 * (issue 15): a real FAT drive (sfdisk, mkfs.vfat, mcopy) on a loop device
 * is backed up into a new encrypted folder through the service; browsing
 * and extracting a generation is refused without the folder's unlock handle
 * (also after another request opened it with the handle: an open session is
 * not a way around the passphrase) and with a forged one, and works with the
 * handle: the partition, the folder's entries, and an extracted file equal
 * to the one copied onto the drive. The passphrase appears in no event, log
 * line or refusal.
 */

const MiB = 1024 * 1024;
const DRIVE = 16 * MiB;
const PASS = 'browse me, but only with this 42';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-enc-browse-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let image: Buffer;
let data: Buffer;
before(() => {
  const file = path.join(root, 'drive.img');
  fs.writeFileSync(file, Buffer.alloc(DRIVE));
  execFileSync('sfdisk', ['--quiet', file], { input: 'label: dos\nstart=2048, type=c\n' });
  execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'SECRET', file, String((DRIVE - MiB) / 1024)], { stdio: 'ignore' });
  data = randomBytes(MiB + 4321);
  fs.writeFileSync(path.join(root, 'data.bin'), data);
  execFileSync('mmd', ['-i', `${file}@@${MiB}`, '::/docs']);
  execFileSync('mcopy', ['-i', `${file}@@${MiB}`, path.join(root, 'data.bin'), '::/docs/data.bin']);
  image = fs.readFileSync(file);
});

test('an encrypted folder generation is browsed and extracted with its unlock handle only; no secret said', async () => {
  const folder = path.join(root, 'enc');
  await withLoopDevices([{ size: DRIVE, opts: { content: image } }], async ([source]) => {
    if (!source) throw new Error('a loop expected');
    const logged: string[] = [];
    const s = new ImprintService({ log: (m) => void logged.push(m), drivePollMs: 60_000, listDrives: async () => [] });
    const seen: ServiceEvent[] = [];
    s.subscribe((e) => void seen.push(e));
    const refusals: unknown[] = [];
    const refused = (r: { ok: boolean; error?: { code: string; message: string } }, what: string): void => {
      assert.equal(r.ok, false, `${what} is refused`);
      assert.equal(r.error?.code, 'E_PASSPHRASE_NEEDED', what);
      assert.doesNotMatch(r.error?.message ?? '', /--passphrase/, `${what}: in the app's words`);
      refusals.push(r);
    };
    try {
      const made = await s.call('startFolderBackup', { device: source.device, folder, encrypt: true, passphrase: PASS });
      assert.ok(made.ok, JSON.stringify(made));
      const finished = await s.jobDone(made.value.jobId);
      assert.equal(finished?.ok, true, JSON.stringify(finished?.error));
      assert.equal(isEncryptedFolder(folder), true);
      const opened = await s.call('unlockBackupFolder', { path: folder, passphrase: PASS });
      assert.ok(opened.ok, JSON.stringify(opened));
      const { unlock } = opened.value;
      const ref = `${folder}#${opened.value.info.generations[0]?.id}`;
      const forged = 'f'.repeat(32);

      refused(await s.call('browsePartitions', { source: ref }), 'partitions without the handle');
      refused(await s.call('browsePartitions', { source: ref, unlock: forged }), 'partitions with a forged handle');
      const parts = await s.call('browsePartitions', { source: ref, unlock });
      assert.ok(parts.ok, JSON.stringify(parts));
      assert.deepEqual(parts.value.map((p) => [p.number, p.filesystem, p.label]), [[1, 'fat16', 'SECRET']]);
      // The session that handle opened stays open: a request without the handle still gets nothing from it.
      refused(await s.call('browsePartitions', { source: ref }), 'partitions without the handle, the folder open');
      refused(await s.call('browseFolder', { source: ref, where: '1:/docs' }), 'a folder without the handle');
      const docs = await s.call('browseFolder', { source: ref, where: '1:/docs', unlock });
      assert.ok(docs.ok, JSON.stringify(docs));
      assert.deepEqual(docs.value.entries.map((e) => [e.name.toLowerCase(), e.kind, e.size]), [['data.bin', 'file', data.length]]);

      const dest = path.join(root, 'out');
      refused(await s.call('startExtract', { source: ref, items: ['1:/docs'], dest }), 'an extraction without the handle');
      assert.equal(fs.existsSync(dest), false, 'a refused extraction writes nothing');
      const started = await s.call('startExtract', { source: ref, items: ['1:/docs'], dest, unlock });
      assert.ok(started.ok, JSON.stringify(started));
      const end = await s.jobDone(started.value.jobId);
      assert.equal(end?.ok, true, JSON.stringify(end?.error));
      const [extracted] = fs.readdirSync(path.join(dest, 'docs'));
      assert.ok(fs.readFileSync(path.join(dest, 'docs', extracted as string)).equals(data), 'the extracted file equals the one on the drive');
      const events = seen.filter((e) => e.event === 'onJobEvent').map((e) => e.payload as JobEvent);
      assert.ok(events.some((e) => e.type === 'job-finished' && e.jobId === started.value.jobId));

      for (const [what, values] of [['every event', seen], ['the log', logged], ['the refusals', refusals]] as const) {
        assert.ok(!JSON.stringify(values).includes(PASS), `${what} does not hold the passphrase`);
      }
      for (const bad of ['not-a-handle', 'F'.repeat(32)]) {
        assert.equal(validateRequest('browseFolder', { source: ref, where: '1:/', unlock: bad }).ok, false, bad);
        assert.equal(validateRequest('startExtract', { source: ref, items: ['1:/'], dest, unlock: bad }).ok, false, bad);
      }
    } finally {
      await s.dispose();
    }
  });
});
