import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobEvent, JobStartedEvent, ProgressEvent } from '../../shared/job-events';
import { IMAGE_FORMS, MiB, OS_IMAGE_SIZE, fixtureDir, imageIn, osImage, pseudoRandom, sha256Of, type ImageForm } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, readDirect, withLoopDevice } from '../engine/testing/loop-device';
import { debianIso } from '../engine/testing/debian-iso';
import { describe, guardLog, runCli, type CliResult } from './testing/run-cli';

/**
 * `imprint flash` end to end: the real CLI writes real images made by the
 * real tools to real loop devices, and the tests read the devices back
 * (O_DIRECT, not the page cache) and compare them with the image.
 */

const LOOP_SIZE = 40 * MiB;
/** Old content on every target, so a region the writer skipped would show. */
const OLD = pseudoRandom(LOOP_SIZE, 'old drive content');

/** Forms whose uncompressed size the file states up front. */
const SIZE_KNOWN: Record<ImageForm, boolean> = { raw: true, gz: false, xz: true, 'xz-blocks': true, zst: true, 'zst-frames': true, bz2: false, zip: true };

function ok(r: CliResult): void {
  assert.equal(r.code, 0, describe(r));
  assert.equal(guardLog(), '', 'the engine tried to open a non-loop block device for writing');
}

/** Checks the NDJSON stream of a successful flash: order, phases, counters, one job id. */
function checkEventStream(events: JobEvent[], device: string, total: number, totalKnown: boolean, verify = true): void {
  const first = events[0] as JobStartedEvent | undefined;
  assert.equal(first?.type, 'job-started');
  assert.equal(first.kind, 'flash');
  assert.deepEqual(first.targets, [device]);
  assert.equal(first.totalBytes, totalKnown ? total : null);
  assert.ok(events.every((e) => e.jobId === first.jobId), 'one job id throughout');
  const last = events[events.length - 1];
  assert.equal(last?.type, 'job-finished');
  assert.equal(events.filter((e) => e.type === 'job-finished').length, 1);

  const progress = events.filter((e): e is ProgressEvent => e.type === 'progress');
  const phases = progress.map((p) => p.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);
  assert.deepEqual(phases, verify ? ['preparing', 'writing', 'verifying', 'done'] : ['preparing', 'writing', 'done']);
  for (const phase of ['writing', 'verifying'] as const) {
    const seq = progress.filter((p) => p.phase === phase).map((p) => p.bytesDone);
    if (!verify && phase === 'verifying') continue;
    for (let i = 1; i < seq.length; i++) assert.ok((seq[i] as number) >= (seq[i - 1] as number), `${phase} progress went backwards: ${seq.join(',')}`);
    assert.equal(seq[seq.length - 1], total, `${phase} ends at the image size`);
  }
  const lastWriting = progress.filter((p) => p.phase === 'writing').pop();
  assert.equal(lastWriting?.targets[0]?.bytesWritten, total, 'the target counted every byte written');
}

test('every image format flashes to a loop device, equal byte for byte, verified', async (t) => {
  const raw = osImage();
  for (const form of IMAGE_FORMS) {
    await t.test(form, async () => {
      await withLoopDevice(
        LOOP_SIZE,
        async (loop) => {
          const r = await runCli(['flash', imageIn(form), loop.device, '--yes', '--json']);
          ok(r);
          assert.equal(r.finished?.ok, true);
          assert.deepEqual(r.finished.targets.map((x) => [x.device, x.status, x.bytesWritten]), [[loop.device, 'verified', OS_IMAGE_SIZE]]);
          assert.equal(r.finished.bytes, OS_IMAGE_SIZE);
          checkEventStream(r.events, loop.device, OS_IMAGE_SIZE, SIZE_KNOWN[form]);
          assert.equal(firstDeviceDifference(loop.device, raw), -1, 'the device holds the image');
        },
        { content: OLD },
      );
    });
  }
});

test('without the xz or bzip2 programs (the in-process decoders), .xz and .bz2 flash the same', async (t) => {
  // By default the system's xz (liblzma >= 5.4) and lbzip2 decode; Windows and
  // older systems use the in-process decoders, forced here.
  const raw = osImage();
  const env = { IMPRINT_XZ_DECODER: 'builtin', IMPRINT_BZIP2_DECODER: 'builtin' };
  for (const form of ['xz', 'xz-blocks', 'bz2'] as ImageForm[]) {
    await t.test(form, async () => {
      await withLoopDevice(
        LOOP_SIZE,
        async (loop) => {
          const r = await runCli(['flash', imageIn(form), loop.device, '--yes', '--json'], { env });
          ok(r);
          assert.deepEqual(r.finished?.targets.map((x) => [x.status, x.bytesWritten]), [['verified', OS_IMAGE_SIZE]]);
          assert.equal(firstDeviceDifference(loop.device, raw), -1, 'the device holds the image');
        },
        { content: OLD },
      );
    });
  }
});

test('a GPT image flashes whole, its partition table readable on the device', async () => {
  const gpt = osImage('gpt');
  await withLoopDevice(
    LOOP_SIZE,
    async (loop) => {
      const r = await runCli(['flash', gpt, loop.device, '--yes']);
      ok(r);
      assert.match(r.stdout, new RegExp(`${loop.device}: written and verified`));
      assert.equal(firstDeviceDifference(loop.device, gpt), -1);
      // The primary GPT header ("EFI PART") sits in sector 1: the head was written.
      assert.equal(readDirect(loop.device, 512, 8).toString('latin1'), 'EFI PART');
    },
    { content: OLD },
  );
});

test('a real bootable ISO from a Debian package flashes and verifies', async (t) => {
  const iso = debianIso();
  if ('skip' in iso) {
    t.diagnostic(iso.skip);
    t.skip(iso.skip);
    return;
  }
  const size = fs.statSync(iso.path).size;
  t.diagnostic(`ISO: ${iso.path} (${size} bytes, from the ${iso.pkg} package)`);
  const loopSize = (Math.ceil(size / MiB) + 2) * MiB;
  await withLoopDevice(
    loopSize,
    async (loop) => {
      const r = await runCli(['flash', iso.path, loop.device, '--yes', '--json']);
      ok(r);
      assert.equal(r.finished?.targets[0]?.status, 'verified');
      assert.equal(firstDeviceDifference(loop.device, iso.path), -1);
      // What makes it boot from a stick: an ISO 9660 volume descriptor and, for a hybrid ISO, an MBR signature.
      assert.equal(readDirect(loop.device, 0x8001, 5).toString('latin1'), 'CD001');
      assert.equal(readDirect(loop.device, 510, 2).toString('hex'), '55aa');
    },
    { content: pseudoRandom(loopSize, 'iso target') },
  );
});

test('a file target receives the decompressed image, sparse, and is verified', async () => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'file-target-'));
  const target = path.join(dir, 'out.img');
  // An existing, larger file full of data: it must end up exactly the image.
  fs.writeFileSync(target, pseudoRandom(40 * MiB, 'stale file'));
  const r = await runCli(['flash', imageIn('zst'), target, '--yes', '--json']);
  ok(r);
  assert.equal(r.finished?.targets[0]?.status, 'verified');
  const st = fs.statSync(target);
  assert.equal(st.size, OS_IMAGE_SIZE);
  assert.equal(sha256Of(target), sha256Of(osImage()));
  // The image is mostly zeros after its partitions: those became holes.
  assert.ok(st.blocks * 512 < st.size * 0.8, `file uses ${st.blocks * 512} bytes on disk for ${st.size}: not sparse`);
});

test('--json: stdout is NDJSON only, people\'s words go to stderr', async () => {
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const r = await runCli(['flash', imageIn('gz'), loop.device, '--yes', '--json', '--no-verify']);
    ok(r);
    // runCli already parsed every stdout line as a JSON object; nothing else is there.
    assert.ok(r.events.length >= 4);
    checkEventStream(r.events, loop.device, OS_IMAGE_SIZE, false, false);
    assert.equal(r.finished?.targets[0]?.status, 'written');
    assert.match(r.stderr, /Image: .*gzip/);
  });
});

test('published checksums: --sha256, IMAGE.sha256 and SHA256SUMS beside the image', async (t) => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'published-'));
  const image = path.join(dir, 'os.img.zst');
  fs.copyFileSync(imageIn('zst'), image);
  const fileSha = sha256Of(image);
  const contentSha = sha256Of(osImage());
  const wrong = 'ab'.repeat(32);
  const head = fs.readFileSync(osImage()).subarray(0, MiB);

  /** Runs a flash of `image` and hands the result and the device (still attached) to `check`. */
  async function run(args: string[], check: (r: CliResult, device: string) => void): Promise<void> {
    await withLoopDevice(
      LOOP_SIZE,
      async (loop) => {
        const r = await runCli(['flash', image, loop.device, '--yes', '--json', ...args]);
        check(r, loop.device);
      },
      { content: OLD },
    );
  }

  const refusedMismatch = (r: CliResult, device: string): void => {
    assert.equal(r.code, 1, describe(r));
    assert.equal(r.finished?.ok, false);
    assert.equal(r.error?.code, 'E_CHECKSUM_MISMATCH', describe(r));
    // The head (partition table, boot code) is written last, so it never was.
    const first = readDirect(device, 0, MiB);
    assert.ok(!first.equals(head), 'the image head reached the device');
    assert.notEqual(first.subarray(510, 512).toString('hex'), '55aa', 'the device looks like a valid MBR disk');
  };

  await t.test('--sha256 of the content passes', () => run(['--sha256', contentSha.toUpperCase()], (r) => ok(r)));
  await t.test('--sha256 of the compressed file passes', () => run(['--sha256', fileSha], (r) => ok(r)));
  await t.test('a wrong --sha256 fails the job and leaves no valid-looking drive', () => run(['--sha256', wrong], refusedMismatch));

  await t.test('SHA256SUMS beside the image is used', async () => {
    fs.writeFileSync(path.join(dir, 'SHA256SUMS'), `${'cd'.repeat(32)}  other.img\n${fileSha} *os.img.zst\n`);
    await run([], (r, device) => {
      ok(r);
      assert.match(r.stderr, /Checking the image against the SHA-256 from .*SHA256SUMS/);
      assert.equal(firstDeviceDifference(device, osImage()), -1);
    });
    fs.writeFileSync(path.join(dir, 'SHA256SUMS'), `${wrong}  os.img.zst\n`);
    await run([], refusedMismatch);
    fs.rmSync(path.join(dir, 'SHA256SUMS'));
  });

  await t.test('IMAGE.sha256 beside the image is used', async () => {
    fs.writeFileSync(`${image}.sha256`, `${wrong}\n`);
    await run([], refusedMismatch);
    fs.writeFileSync(`${image}.sha256`, `${contentSha}  os.img\n`);
    await run([], (r) => ok(r));
  });
});
