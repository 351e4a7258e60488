import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseSystemUse } from './rock-ridge';

/**
 * Crafted SUSP areas: continuation (CE) chains that loop or leave the image
 * end, with the problem reported; entries that overrun their area stop the
 * parse there. Real Rock Ridge from genisoimage and xorriso is compared
 * with the trees it was made from in cli/browse/browse-iso.integration.test.ts.
 */

/** A CE entry pointing at `block`, `offset`, `length` (both-endian fields, LE half first). */
function ce(block: number, offset: number, length: number): Buffer {
  const e = Buffer.alloc(28);
  e.write('CE', 0, 'latin1');
  e[2] = 28;
  e[3] = 1;
  for (const [at, v] of [[4, block], [12, offset], [20, length]] as const) {
    e.writeUInt32LE(v, at);
    e.writeUInt32BE(v, at + 4);
  }
  return e;
}

function nm(name: string, flags = 0): Buffer {
  const b = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([0x4e, 0x4d, 5 + b.length, 1, flags]), b]);
}

test('a continuation area that points at itself ends after a bounded number of reads, and says so', async () => {
  let reads = 0;
  const self = ce(20, 0, 28);
  const rr = await parseSystemUse(Buffer.concat([nm('part-', 1), self]), async () => {
    reads++;
    return Buffer.concat([self]);
  }, 2048, 1 << 20);
  assert.ok(reads <= 32, `${reads} reads`);
  assert.match(rr.problem ?? '', /too many continuation areas/);
  assert.equal(rr.name, 'part-');
});

test('a name continued into a continuation area is joined; one outside the image is refused unread', async () => {
  const rr = await parseSystemUse(Buffer.concat([nm('first-', 1), ce(3, 100, 9)]), async (offset, length) => {
    assert.deepEqual([offset, length], [3 * 2048 + 100, 9]);
    return nm('half');
  }, 2048, 1 << 20);
  assert.equal(rr.name, 'first-half');
  const out = await parseSystemUse(ce(600, 0, 28), async () => assert.fail('read outside the image'), 2048, 1 << 20);
  assert.match(out.problem ?? '', /outside the image/);
});

test('an entry longer than its area stops the parse with a problem; symlink components join with "/"', async () => {
  const bad = nm('ok');
  bad[2] = 200;
  const rr = await parseSystemUse(bad, async () => Buffer.alloc(0), 2048, 1 << 20);
  assert.equal(rr.name, undefined);
  assert.match(rr.problem ?? '', /runs past its area/);
  // SL: root, "usr", "..", "lib" split over two components with CONTINUE.
  const comps = Buffer.from([0x08, 0, 0, 3, ...Buffer.from('usr'), 0x04, 0, 0x01, 2, ...Buffer.from('li'), 0, 1, ...Buffer.from('b')]);
  const sl = Buffer.concat([Buffer.from([0x53, 0x4c, 5 + comps.length, 1, 0]), comps]);
  const link = await parseSystemUse(sl, async () => Buffer.alloc(0), 2048, 1 << 20);
  assert.equal(link.symlink, '/usr/../lib');
});
