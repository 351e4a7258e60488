import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MiB, OS_IMAGE_SIZE, fixtureDir, imageIn, osImage, pseudoRandom, type ImageForm } from '../engine/testing/image-fixtures';
import { readDirect, withLoopDevice } from '../engine/testing/loop-device';
import { inspectImageDetails } from '../service/image-details';
import { describe, guardLog, hasStackTrace, runCli } from './testing/run-cli';

/**
 * A drive too small for a compressed image is refused before it is erased,
 * using every size the format records: gzip's ISIZE trailer (a lower bound:
 * the last member's size mod 2^32), zip's central directory, xz's index,
 * zstd's frame headers. The drive's bytes are compared before and after.
 */

const SMALL = 16 * MiB;

test('a 32 MiB image in .gz, .zip, .xz, .zst is refused for a 16 MiB drive, exit 2, the drive unchanged', async (t) => {
  const old = pseudoRandom(SMALL, 'size hint target');
  await withLoopDevice(
    SMALL,
    async (small) => {
      for (const form of ['gz', 'zip', 'xz', 'zst'] as ImageForm[]) {
        await t.test(form, async () => {
          const r = await runCli(['flash', imageIn(form), small.device, '--yes', '--json']);
          assert.equal(r.code, 2, describe(r));
          assert.equal(r.error?.code, 'E_TARGET_TOO_SMALL', describe(r));
          assert.ok(r.error?.message.includes(small.device), r.error?.message);
          assert.ok(r.error?.message.includes(String(OS_IMAGE_SIZE)), `${r.error?.message} does not name the ${OS_IMAGE_SIZE} bytes needed`);
          assert.ok(!r.events.some((e) => e.type === 'job-started'), 'a job was started');
          assert.ok(!hasStackTrace(r.stderr), r.stderr);
          assert.equal(guardLog(), '');
          assert.ok(readDirect(small.device, 0, SMALL).equals(old), `${small.device} was written`);
        });
      }
    },
    { content: old },
  );
});

test('what the app is told: a .gz has a lower bound (the last member\'s ISIZE), a streamed .zst no size and a note saying so', async () => {
  const gz = await inspectImageDetails(imageIn('gz'));
  assert.equal(gz.size, null);
  assert.equal(gz.minSize, OS_IMAGE_SIZE);
  assert.match(gz.sizeNote ?? '', /not known before it is decompressed.*at least 33554432 bytes.*old data is erased/);

  // Two members: ISIZE names only the second, so the bound is its size, never the sum or more.
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'members-'));
  const first = path.join(dir, 'a.gz');
  const second = path.join(dir, 'b.gz');
  fs.writeFileSync(first, execFileSync('gzip', ['-c', '-n'], { maxBuffer: 64 * MiB, input: pseudoRandom(3 * MiB, 'member one') }));
  fs.writeFileSync(second, execFileSync('gzip', ['-c', '-n'], { maxBuffer: 64 * MiB, input: Buffer.alloc(MiB + 512) }));
  const both = path.join(dir, 'both.gz');
  fs.writeFileSync(both, Buffer.concat([fs.readFileSync(first), fs.readFileSync(second)]));
  assert.equal((await inspectImageDetails(both)).minSize, MiB + 512);

  // zstd reading stdin does not know the size, so its frame does not state it.
  const streamed = path.join(dir, 'streamed.zst');
  fs.writeFileSync(streamed, execFileSync('zstd', ['-q', '-c'], { maxBuffer: 64 * MiB, input: fs.readFileSync(osImage()) }));
  const zst = await inspectImageDetails(streamed);
  assert.equal(zst.size, null);
  assert.ok(!zst.minSize, 'a streamed .zst has no lower bound');
  assert.match(zst.sizeNote ?? '', /not known before it is decompressed: if it turns out larger than a drive/);
  const known = await inspectImageDetails(imageIn('xz'));
  assert.equal(known.size, OS_IMAGE_SIZE);
  assert.equal(known.sizeNote, null);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('where the size is truly unknown (a streamed .zst), the drive is written until it ends, and the failure says its old data is erased', async () => {
  const dir = fs.mkdtempSync(path.join(fixtureDir(), 'streamed-'));
  const streamed = path.join(dir, 'streamed.zst');
  fs.writeFileSync(streamed, execFileSync('zstd', ['-q', '-c'], { maxBuffer: 64 * MiB, input: fs.readFileSync(osImage()) }));
  try {
    await withLoopDevice(SMALL, async (small) => {
      const r = await runCli(['flash', streamed, small.device, '--yes', '--json']);
      assert.equal(r.code, 1, describe(r));
      const target = r.finished?.targets[0];
      assert.equal(target?.status, 'failed', describe(r));
      assert.ok((target?.bytesWritten ?? 0) > 0, 'the drive was written to');
      assert.match(target?.error?.message ?? '', /old data is erased/, describe(r));
      assert.match(r.finished?.error?.message ?? '', /old data is erased/);
      const human = await runCli(['flash', streamed, small.device, '--yes']);
      assert.equal(human.code, 1, describe(human));
      assert.equal(human.stdout.split('old data is erased').length - 1, 1, `said once:\n${human.stdout}`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
