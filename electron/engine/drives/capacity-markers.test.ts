import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { MARKER_BYTES, decodeMarker, encodeMarker, judgeMarkers, markerOffsets, type MarkerResult } from './capacity-markers';

const MiB = 1 << 20;
const GiB = 1 << 30;

test('marker places: every 1/64th, every power of two from 1 MiB, and the last page; sorted, aligned, inside', () => {
  for (const size of [8 * MiB, 32 * MiB + 512, 64 * GiB, 2 * 1000 ** 4]) {
    const at = markerOffsets(size);
    assert.deepEqual(at, [...new Set(at)].sort((a, b) => a - b));
    assert.ok(at.every((o) => o % MARKER_BYTES === 0 && o >= 0 && o + MARKER_BYTES <= size), `${size}`);
    assert.equal(at[0], 0);
    assert.equal(at[at.length - 1], Math.floor(size / MARKER_BYTES) * MARKER_BYTES - MARKER_BYTES);
    for (let p = MiB; p + MARKER_BYTES <= size; p *= 2) assert.ok(at.includes(p), `power of two ${p} of ${size}`);
    assert.ok(at.length >= 64 && at.length <= 64 + 45, `${at.length} markers`);
  }
  assert.deepEqual(markerOffsets(MARKER_BYTES - 1), []);
});

test('a marker decodes to its own offset, and only with its run nonce and intact bytes', () => {
  const page = Buffer.alloc(MARKER_BYTES);
  encodeMarker(5 * MiB, 'aa11', page);
  assert.equal(decodeMarker(page, 'aa11'), 5 * MiB);
  assert.equal(decodeMarker(page, 'bb22'), null, 'an earlier run');
  const torn = Buffer.from(page);
  torn[MARKER_BYTES - 1] = (torn[MARKER_BYTES - 1] as number) ^ 1;
  assert.equal(decodeMarker(torn, 'aa11'), null, 'one flipped bit at the end');
  assert.equal(decodeMarker(Buffer.alloc(MARKER_BYTES), 'aa11'), null, 'zeros');
  // Two markers differ beyond their header: the pattern depends on the offset.
  const other = Buffer.alloc(MARKER_BYTES);
  encodeMarker(6 * MiB, 'aa11', other);
  assert.notDeepEqual(other.subarray(256), page.subarray(256));
});

/** What a drive that keeps only `real` bytes and wraps would return for markers written in ascending order. */
function wrapping(claimed: number, real: number): MarkerResult[] {
  const at = markerOffsets(claimed);
  const last = new Map<number, number>();
  for (const o of at) last.set(o % real, o);
  return at.map((o) => {
    const by = last.get(o % real) as number;
    return by === o ? { offset: o, state: 'intact' } : { offset: o, state: 'overwritten', by };
  });
}

test('judge: a drive that wraps is counterfeit, and the wrap period is its real capacity', () => {
  for (const [claimed, real] of [[64 * GiB, 8 * GiB], [64 * MiB, 16 * MiB], [2 * 1000 ** 4, 32 * GiB]] as const) {
    const v = judgeMarkers('/dev/sdz', claimed, wrapping(claimed, real));
    assert.equal(v.ok, false);
    assert.equal(v.error?.code, 'E_COUNTERFEIT');
    assert.equal(v.wrapsAt, real, `${claimed} claimed, ${real} real`);
    assert.equal(v.realBytesEstimate, real);
    assert.match(v.error?.message ?? '', /holds less than it claims; data wraps at about/);
  }
});

test('judge: every marker back is a pass; a failing tail is a short drive; a failure with a sound end is a bad sector', () => {
  const at = markerOffsets(32 * MiB);
  const intact = at.map((o): MarkerResult => ({ offset: o, state: 'intact' }));
  assert.deepEqual(judgeMarkers('/dev/sdz', 32 * MiB, intact), { ok: true, claimedBytes: 32 * MiB, realBytesEstimate: 32 * MiB, wrapsAt: null, failedMarkers: 0 });

  const tail = at.map((o): MarkerResult => (o >= 20 * MiB ? { offset: o, state: 'write-error', errno: 'ENOSPC' } : { offset: o, state: 'intact' }));
  const short = judgeMarkers('/dev/sdz', 32 * MiB, tail);
  assert.equal(short.error?.code, 'E_COUNTERFEIT');
  assert.equal(short.realBytesEstimate, 20 * MiB);

  const lostTail = at.map((o): MarkerResult => (o >= 24 * MiB ? { offset: o, state: 'lost' } : { offset: o, state: 'intact' }));
  assert.equal(judgeMarkers('/dev/sdz', 32 * MiB, lostTail).realBytesEstimate, 24 * MiB);

  const one = at.map((o): MarkerResult => (o === 5 * MiB ? { offset: o, state: 'read-error', errno: 'EIO' } : { offset: o, state: 'intact' }));
  const bad = judgeMarkers('/dev/sdz', 32 * MiB, one);
  assert.equal(bad.error?.code, 'E_BAD_SECTOR');
  assert.equal(bad.error?.offset, 5 * MiB);
  assert.equal(bad.realBytesEstimate, 32 * MiB, 'a bad sector does not make the capacity fake');
});
