// Everything a user or a broken file can hand Imprint, table-driven: each
// gets a clear message, the documented exit code (2 refused / bad input,
// 1 failed), and leaves no target or file in a state that claims success.
import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorCode } from '../../../shared/error-codes';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { compressTo, fixtureDir, pseudoRandom, smallImageIn } from '../../engine/testing/image-fixtures';
import { readDirect, withLoopDevice, writeDirect, type LoopDevice } from '../../engine/testing/loop-device';
import { MiB, canRun, describe, imprint, noCrash, randomImage, startImprint, within, type CliRun } from './fault-bench';
import { record } from './fault-tally';

const TARGET_SIZE = 40 * MiB;
const OLD = pseudoRandom(TARGET_SIZE, 'bad input target');
const dir = (name: string): string => fs.mkdtempSync(path.join(fixtureDir(), `${name}-`));

/** What the target (a loop device holding OLD) must look like afterwards. */
type After =
  /** Refused up front: not one byte changed. */
  | 'unchanged'
  /** Failed mid-way: whatever was written, not the image's first MiB (written last), so nothing looks bootable. */
  | 'no-head'
  /** Worked: the target holds the image, verified. */
  | 'image';

interface BadInput {
  name: string;
  /** The command line; `target` is the loop device. */
  args: (target: string) => string[];
  exit: 0 | 1 | 2;
  code?: ErrorCode;
  /** A word the message must contain, so it says what is wrong. */
  says?: RegExp;
  after: After;
  /** The raw image the target must (after: 'image') or must not (after: 'no-head') hold. */
  image?: string;
}

function truncated(file: string): string {
  const out = path.join(dir('truncated'), path.basename(file));
  const data = fs.readFileSync(file);
  fs.writeFileSync(out, data.subarray(0, Math.floor(data.length * 0.6)));
  return out;
}

function corrupted(file: string): string {
  const out = path.join(dir('corrupted'), path.basename(file));
  const data = Buffer.from(fs.readFileSync(file));
  const mid = Math.floor(data.length / 2);
  for (let i = mid; i < mid + 16; i++) data[i] = (data[i] as number) ^ 0xff;
  fs.writeFileSync(out, data);
  return out;
}

function zipOf(files: Record<string, Buffer | string>): string {
  const stage = dir('zip');
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'string' && fs.existsSync(content)) fs.copyFileSync(content, path.join(stage, name));
    else fs.writeFileSync(path.join(stage, name), content);
  }
  const out = path.join(dir('zipped'), 'archive.zip');
  execFileSync('zip', ['-q', '-j', out, ...Object.keys(files).map((n) => path.join(stage, n))]);
  return out;
}

function cases(target: string): BadInput[] {
  const raw = smallImageIn('raw');
  const list: BadInput[] = [
    { name: 'a path that does not exist', args: (t) => ['flash', '/nonexistent/imprint/os.img', t, '--yes'], exit: 2, code: 'E_SOURCE_NOT_FOUND', says: /does not exist|not found/i, after: 'unchanged' },
    { name: 'a folder', args: (t) => ['flash', dir('folder'), t, '--yes'], exit: 2, code: 'E_SOURCE_IS_DIRECTORY', says: /folder|directory/i, after: 'unchanged' },
    { name: 'an empty file', args: (t) => { const f = path.join(dir('empty'), 'empty.img'); fs.writeFileSync(f, ''); return ['flash', f, t, '--yes']; }, exit: 2, code: 'E_SOURCE_EMPTY', says: /empty/i, after: 'unchanged' },
  ];
  for (const form of ['gz', 'xz', 'zst', 'bz2', 'zip'] as const) {
    list.push({ name: `a truncated ${form}`, args: (t) => ['flash', truncated(smallImageIn(form)), t, '--yes'], exit: 1, code: 'E_CORRUPT_SOURCE', says: /truncated|corrupt/i, after: 'no-head', image: raw });
    list.push({ name: `a corrupted ${form}`, args: (t) => ['flash', corrupted(smallImageIn(form)), t, '--yes'], exit: 1, code: 'E_CORRUPT_SOURCE', says: /corrupt/i, after: 'no-head', image: raw });
  }
  list.push(
    { name: 'a zip with no image in it', args: (t) => ['flash', zipOf({ 'README.txt': 'nothing to see\n', 'SHA256SUMS': 'abc  x.img\n' }), t, '--yes'], exit: 2, code: 'E_ZIP_NO_IMAGE', after: 'unchanged' },
    { name: 'a zip with two images', args: (t) => ['flash', zipOf({ 'a.img': raw, 'b.img': pseudoRandom(MiB, 'second image') }), t, '--yes'], exit: 2, code: 'E_ZIP_SEVERAL_IMAGES', says: /a\.img|b\.img/, after: 'unchanged' },
    {
      name: 'a .gz that is really raw (told by content: works)',
      args: (t) => { const f = path.join(dir('lies'), 'really-raw.img.gz'); fs.copyFileSync(raw, f); return ['flash', f, t, '--yes']; },
      exit: 0,
      after: 'image',
      image: raw,
    },
    {
      name: 'a .img that is really xz (told by content: works)',
      args: (t) => { const f = path.join(dir('lies'), 'really-xz.img'); fs.copyFileSync(smallImageIn('xz'), f); return ['flash', f, t, '--yes']; },
      exit: 0,
      after: 'image',
      image: raw,
    },
    {
      name: 'an xz whose content is far larger than the target (size known: refused up front)',
      args: (t) => ['flash', compressTo('xz', zerosFile(256 * MiB), path.join(dir('huge'), 'huge.img.xz')), t, '--yes'],
      exit: 2,
      code: 'E_TARGET_TOO_SMALL',
      after: 'unchanged',
    },
    {
      // gzip's ISIZE is a lower bound on the content; confirmed by decoding past the drive's size, it refuses before writing.
      name: 'a gzip whose content is far larger than the target (its trailer says so: refused up front)',
      args: (t) => ['flash', compressTo('gz', zerosFile(256 * MiB), path.join(dir('huge'), 'huge.img.gz')), t, '--yes'],
      exit: 2,
      code: 'E_TARGET_TOO_SMALL',
      after: 'unchanged',
    },
    { name: 'a target that is not a block device (/dev/null)', args: () => ['flash', raw, '/dev/null', '--yes'], exit: 2, code: 'E_TARGET_NOT_WRITABLE_KIND', after: 'unchanged' },
    { name: 'the same target twice', args: (t) => ['flash', raw, t, t, '--yes'], exit: 2, code: 'E_TARGET_DUPLICATE', after: 'unchanged' },
    {
      name: 'the same target twice, once through a symlink',
      args: (t) => { const link = path.join(dir('alias'), 'my-stick'); fs.symlinkSync(t, link); return ['flash', raw, t, link, '--yes']; },
      exit: 2,
      code: 'E_TARGET_DUPLICATE',
      after: 'unchanged',
    },
    {
      name: 'the same target twice, once through another device node (as /dev/disk/by-id links lead to)',
      args: (t) => {
        const alias = path.join(dir('node'), 'same-disk');
        const { rdev } = fs.statSync(t);
        execFileSync('mknod', [alias, 'b', String(Math.floor(rdev / 256) % 4096), String((rdev & 0xff) | ((rdev >> 12) & 0xfff00))]);
        return ['flash', raw, alias, t, '--yes'];
      },
      exit: 2,
      code: 'E_TARGET_DUPLICATE',
      after: 'unchanged',
    },
  );
  const byId = byIdAliasOf(target);
  if (byId) list.push({ name: `the same target twice, once as ${byId}`, args: (t) => ['flash', raw, t, byId, '--yes'], exit: 2, code: 'E_TARGET_DUPLICATE', after: 'unchanged' });
  else console.log(`no /dev/disk/by-* link to ${target} (no udev here): that alias is covered by the device-node case`);
  return list;
}

/** A /dev/disk/by-* link to `device`, if udev made one (not on machines without udev). */
function byIdAliasOf(device: string): string | null {
  for (const kind of fs.existsSync('/dev/disk') ? fs.readdirSync('/dev/disk') : []) {
    for (const name of fs.readdirSync(path.join('/dev/disk', kind))) {
      const link = path.join('/dev/disk', kind, name);
      if (fs.realpathSync(link) === device) return link;
    }
  }
  return null;
}

let zeros: string | null = null;
function zerosFile(size: number): string {
  zeros ??= path.join(dir('zeros'), 'zeros.img');
  if (!fs.existsSync(zeros)) execFileSync('truncate', ['-s', String(size), zeros]);
  return zeros;
}

function checkOutcome(r: CliRun, c: BadInput, before: Buffer, loop: LoopDevice): void {
  noCrash(r);
  assert.equal(r.code, c.exit, describe(r));
  if (c.code) assert.equal(r.error?.code, c.code, describe(r));
  if (c.exit !== 0) {
    assert.ok(r.error && r.error.message.length > 20, `no clear message:\n${describe(r)}`);
    if (c.says) assert.match(r.error?.message ?? '', c.says);
    assert.notEqual(r.finished?.ok, true, 'the job says ok');
  }
  const now = readDirect(loop.device, 0, TARGET_SIZE);
  if (c.after === 'unchanged') assert.ok(now.equals(before), 'the target was written although the input was refused');
  if (c.after === 'image' || c.after === 'no-head') {
    const imageHead = c.image ? fs.readFileSync(c.image).subarray(0, MiB) : null;
    if (c.after === 'image') {
      assert.equal(r.finished?.targets[0]?.status, 'verified', describe(r));
      const img = fs.readFileSync(c.image as string);
      assert.ok(now.subarray(0, img.length).equals(img), 'the target does not hold the image');
    } else {
      const head = now.subarray(0, MiB);
      if (imageHead) assert.ok(!head.equals(imageHead), 'the image head was written although the job failed');
      assert.ok(head.equals(before.subarray(0, MiB)) || head.every((b) => b === 0), 'the target head is neither untouched nor wiped');
    }
  }
}

test('bad input, table-driven: clear message, documented exit code, no target claiming success', async (t) => {
  await withLoopDevice(
    TARGET_SIZE,
    async (loop) => {
      for (const c of cases(loop.device)) {
        await t.test(c.name, async () => {
          writeDirect(loop.device, 0, OLD);
          const before = readDirect(loop.device, 0, TARGET_SIZE);
          const r = await imprint(c.args(loop.device));
          record({ kind: 'bad-input', name: c.name });
          checkOutcome(r, c, before, loop);
        });
      }
    },
    { content: OLD },
  );
});

test('bad input: an image the user may not read (run as nobody): refused, no output file made', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to switch to the user nobody');
  const secret = path.join(dir('secret'), 'private.img');
  fs.copyFileSync(smallImageIn('raw'), secret);
  fs.chmodSync(secret, 0o600);
  const outDir = dir('nobody-out');
  fs.chmodSync(outDir, 0o777);
  const out = path.join(outDir, 'copy.img');
  const r = await imprint(['flash', secret, out, '--yes'], { asNobody: true });
  record({ kind: 'bad-input', name: 'no read permission' });
  noCrash(r);
  assert.equal(r.code, 2, describe(r));
  assert.equal(r.error?.code, 'E_SOURCE_UNREADABLE');
  assert.match(r.error?.message ?? '', /permission/);
  assert.ok(!fs.existsSync(out), 'an output file was created');
});

test('bad input: a backup whose recorded SHA-256 was edited: the restore fails, the target not bootable', async (t) => {
  const raw = smallImageIn('raw');
  const backupDir = dir('backup');
  const backup = path.join(backupDir, 'stick.img');
  await withLoopDevice(16 * MiB, async (source) => {
    const made = await imprint(['backup', source.device, backup, '--compress', 'none']);
    assert.equal(made.code, 0, describe(made));
  }, { content: fs.readFileSync(raw) });
  const sidecar = `${backup}.json`;
  const meta = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as { sha256: string };
  meta.sha256 = (meta.sha256[0] === '0' ? '1' : '0') + meta.sha256.slice(1);
  fs.writeFileSync(sidecar, JSON.stringify(meta, null, 2));
  await withLoopDevice(
    TARGET_SIZE,
    async (loop) => {
      const before = readDirect(loop.device, 0, TARGET_SIZE);
      const r = await imprint(['restore', backup, loop.device, '--yes']);
      record({ kind: 'bad-input', name: 'backup with an edited SHA-256' });
      checkOutcome(r, { name: 'edited sha', args: () => [], exit: 1, code: 'E_CHECKSUM_MISMATCH', says: /SHA-256/, after: 'no-head', image: backup }, before, loop);
      t.diagnostic(r.error?.message ?? '');
    },
    { content: OLD },
  );
});

/**
 * An image that changes size while it is flashed. Deterministic: a second
 * target hangs after its first chunk and holds the ring's slots, so the
 * reader waits well before the end until the watchdog drops that target; the
 * file is changed while the reader waits.
 */
async function flashWhileImageChanges(t: TestContext, change: (image: string) => void): Promise<void> {
  if (!canRun(t)) return;
  const image = path.join(dir('changing'), 'changing.img');
  fs.copyFileSync(randomImage(48 * MiB, 'changing image'), image);
  await withLoopDevice(64 * MiB, async (loop) => {
    await withFaultyDevice({ size: 64 * MiB, hangAfterBytesWritten: 3 * MiB }, async (d) => {
      const run = startImprint(['flash', image, loop.device, d.device, '--yes']);
      try {
        await within(run.waitForEvent((e) => e.type === 'progress' && e.targets.some((x) => x.device === loop.device && x.bytesWritten > 0)), 60_000, 'writing started');
        change(image);
        const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report');
        assert.ok(finished?.type === 'job-finished');
        assert.equal(finished.ok, false);
        assert.equal(finished.error?.code, 'E_SOURCE_CHANGED', run.stderr());
        assert.match(finished.error?.message ?? '', /changed|ended/);
        const healthy = finished.targets.find((x) => x.device === loop.device);
        assert.notEqual(healthy?.status, 'verified');
        assert.ok(!readDirect(loop.device, 0, MiB).equals(fs.readFileSync(image).subarray(0, MiB)), 'the image head was written');
      } finally {
        await d.kill();
      }
      assert.equal((await within(run.exited, 60_000, 'imprint exits')).code, 1);
    });
  });
}

test('bad input: an image that shrinks during the flash: E_SOURCE_CHANGED, nothing claims success', async (t) => {
  await flashWhileImageChanges(t, (image) => fs.truncateSync(image, 40 * MiB));
  record({ kind: 'bad-input', name: 'image shrinks while flashing' });
});

test('bad input: an image that grows during the flash: E_SOURCE_CHANGED, nothing claims success', async (t) => {
  await flashWhileImageChanges(t, (image) => fs.appendFileSync(image, pseudoRandom(8 * MiB, 'appended')));
  record({ kind: 'bad-input', name: 'image grows while flashing' });
});
