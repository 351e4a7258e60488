// Read errors on chosen sectors of a SOURCE drive: flash and clone from it
// fail with E_BAD_SECTOR at the exact sector; backup fails the same way and
// offers rescue mode, which saves every readable byte (bytes lost: 0).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { readDirect, withLoopDevice } from '../../engine/testing/loop-device';
import { MiB, describe, failedWith, faultTest, imprint } from './fault-bench';
import { record } from './fault-tally';

const SIZE = 16 * MiB;
/** Two bad areas: 2 KiB inside the second 4 MiB chunk, and one sector further on. */
const BAD = [
  { offset: 6 * MiB + 1024, length: 2048 },
  { offset: 13 * MiB + 7 * 512, length: 512 },
];
const CONTENT = pseudoRandom(SIZE, 'source drive with bad sectors');

function freshDir(name: string): string {
  return fs.mkdtempSync(path.join(fixtureDir(), `${name}-`));
}

faultTest('flash from a drive with unreadable sectors: E_BAD_SECTOR at the first one, the output head not written', async () => {
  await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
    const out = path.join(freshDir('flash'), 'copy.img');
    const r = await imprint(['flash', d.device, out, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_BAD_SECTOR');
    assert.equal(err.offset, BAD[0]?.offset, describe(r));
    assert.match(err.message, /unreadable sector at offset/);
    // What was left is no copy of the drive: its first MiB (written last) is missing.
    if (fs.existsSync(out)) assert.ok(!fs.readFileSync(out).subarray(0, MiB).equals(CONTENT.subarray(0, MiB)), 'the copy looks complete');
  });
});

faultTest('clone from a drive with unreadable sectors: E_BAD_SECTOR at the exact sector, the target not bootable', async () => {
  await withLoopDevice(SIZE, async (target) => {
    await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
      const r = await imprint(['clone', d.device, target.device, '--yes'], { onStuck: d.kill });
      const err = failedWith(r, 'E_BAD_SECTOR');
      assert.equal(err.offset, BAD[0]?.offset, describe(r));
      assert.ok(!readDirect(target.device, 0, MiB).equals(CONTENT.subarray(0, MiB)), 'the target got the source head');
    });
  });
});

faultTest('backup of a drive with unreadable sectors fails, leaves nothing, and says how to rescue', async () => {
  await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
    const dir = freshDir('backup');
    const out = path.join(dir, 'disk.img.zst');
    const r = await imprint(['backup', d.device, out], { onStuck: d.kill });
    const err = failedWith(r, 'E_BAD_SECTOR');
    assert.equal(err.offset, BAD[0]?.offset, describe(r));
    assert.deepEqual(fs.readdirSync(dir), [], 'a file was left behind');
    assert.match(r.stderr, /has unreadable sectors/);
    assert.ok(r.stderr.includes(`imprint backup --rescue ${d.device} ${out}`), r.stderr);
    assert.ok(r.stderr.includes(`imprint rescue ${d.device} ${path.join(dir, 'disk.img')}`), r.stderr);
  });
});

faultTest('backup --rescue saves every readable byte, zeros the unreadable ones, and says where they are', async () => {
  await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
    const dir = freshDir('rescue');
    const r = await imprint(['backup', '--rescue', d.device, path.join(dir, 'disk.img.zst')], { onStuck: d.kill });
    assert.equal(r.code, 1, describe(r));
    const rescued = path.join(dir, 'disk.img');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['disk.img', 'disk.img.map'], 'a raw image and its map, no compressed file');
    const finished = r.events.filter((e) => e.type === 'job-finished').pop();
    assert.ok(finished?.type === 'job-finished');
    const details = finished.details ?? {};
    const badBytes = BAD.reduce((n, b) => n + b.length, 0);
    assert.equal(details.lostBytes, badBytes, describe(r));
    assert.equal(details.rescuedBytes, SIZE - badBytes);
    assert.deepEqual(details.badAreas, BAD);
    // Byte by byte: readable bytes equal the drive's, unreadable ones are zeros.
    const got = fs.readFileSync(rescued);
    assert.equal(got.length, SIZE);
    const isBad = (i: number) => BAD.some((b) => i >= b.offset && i < b.offset + b.length);
    let lost = 0;
    let nonZeroInBad = 0;
    for (let i = 0; i < SIZE; i++) {
      if (isBad(i)) nonZeroInBad += got[i] === 0 ? 0 : 1;
      else if (got[i] !== CONTENT[i]) lost++;
    }
    record({ kind: 'bytes-lost', name: 'backup --rescue', bytes: lost });
    assert.equal(lost, 0, 'readable bytes the rescue failed to save');
    assert.equal(nonZeroInBad, 0, 'the unreadable areas hold zeros');
  });
});

faultTest('imprint rescue of the same drive: every readable byte saved (the figure behind "bytes lost")', async () => {
  await withFaultyDevice({ size: SIZE, initialContent: CONTENT, readErrors: BAD }, async (d) => {
    const out = path.join(freshDir('rescue-cli'), 'drive.img');
    const r = await imprint(['rescue', d.device, out], { onStuck: d.kill });
    assert.equal(r.code, 1, describe(r));
    const got = fs.readFileSync(out);
    let lost = 0;
    for (let i = 0; i < SIZE; i++) if (got[i] !== CONTENT[i] && !BAD.some((b) => i >= b.offset && i < b.offset + b.length)) lost++;
    record({ kind: 'bytes-lost', name: 'imprint rescue', bytes: lost });
    assert.equal(lost, 0);
  });
});
