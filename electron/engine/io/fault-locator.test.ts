import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { findReadableEnd, locateFault, type Transfer } from './fault-locator';

const SECTOR = 512;

/** A fake medium: sectors in `bad` fail every time; those in `flaky` fail `flakyTimes` times, then work. */
function medium(opts: { bad?: number[]; flaky?: number[]; flakyTimes?: number; errno?: string }) {
  const bad = new Set(opts.bad ?? []);
  const flaky = new Map((opts.flaky ?? []).map((s) => [s, opts.flakyTimes ?? 1]));
  const written = new Map<number, number>(); // sector offset -> first byte written
  const calls: [number, number][] = [];
  const transfer: Transfer = (buf, offset) => {
    calls.push([offset, buf.length]);
    for (let at = offset; at < offset + buf.length; at += SECTOR) {
      const left = flaky.get(at) ?? 0;
      if (bad.has(at) || left > 0) {
        if (left > 0) flaky.set(at, left - 1);
        throw Object.assign(new Error('io error'), { code: opts.errno ?? 'EIO' });
      }
    }
    for (let at = offset; at < offset + buf.length; at += SECTOR) written.set(at, buf[at - offset] as number);
  };
  return { transfer, written, calls };
}

/** 4 MiB whose every sector starts with its own index, to check data lands at the right place. */
function chunk(length = 4 << 20): Buffer {
  const b = Buffer.alloc(length);
  for (let s = 0; s < length / SECTOR; s++) b[s * SECTOR] = s & 0xff;
  return b;
}

test('the first persistently failing sector of a 4 MiB range is found, in a few dozen transfers', () => {
  const base = 8 << 20;
  const firstBad = base + 1234 * SECTOR;
  const m = medium({ bad: [firstBad, base + 5000 * SECTOR] });
  const fault = locateFault(m.transfer, chunk(), base, SECTOR, { retryDelayMs: 0 });
  assert.equal(fault?.offset, firstBad);
  assert.equal((fault?.error as NodeJS.ErrnoException).code, 'EIO');
  // log2(8192 sectors) = 13 halvings, two transfers each at most, plus two retries of the bad sector.
  assert.ok(m.calls.length <= 2 * 13 + 2, `${m.calls.length} transfers`);
  // Everything before the bad sector was written, each sector at its place.
  for (let s = 0; s < 1234; s++) assert.equal(m.written.get(base + s * SECTOR), s & 0xff);
});

test('a sector that fails once and then works is transient: null, and the whole range is written', () => {
  const base = 0;
  const m = medium({ flaky: [77 * SECTOR], flakyTimes: 1 });
  assert.equal(locateFault(m.transfer, chunk(1 << 20), base, SECTOR, { retryDelayMs: 0 }), null);
  assert.equal(m.written.size, (1 << 20) / SECTOR, 'every sector written');
});

test('retries are bounded: a sector that keeps failing with EIO is tried alone three times, then called bad', () => {
  const m = medium({ flaky: [3 * SECTOR], flakyTimes: 1000 });
  const fault = locateFault(m.transfer, chunk(64 * 1024), 0, SECTOR, { retries: 2, retryDelayMs: 0 });
  assert.equal(fault?.offset, 3 * SECTOR);
  const tries = m.calls.filter(([o, l]) => o === 3 * SECTOR && l === SECTOR).length;
  assert.equal(tries, 3, 'one try and two retries');
});

test('ENOSPC is an answer, not a hiccup: never retried', () => {
  const m = medium({ bad: [100 * SECTOR], errno: 'ENOSPC' });
  const fault = locateFault(m.transfer, chunk(1 << 20), 0, SECTOR, { retryDelayMs: 0 });
  assert.equal(fault?.offset, 100 * SECTOR);
  assert.equal(m.calls.filter(([o, l]) => o === 100 * SECTOR && l === SECTOR).length, 1);
});

test('a range of one sector is tried (with retries) rather than split', () => {
  const m = medium({ bad: [4096] });
  assert.equal(locateFault(m.transfer, chunk(SECTOR), 4096, SECTOR, { retryDelayMs: 0 })?.offset, 4096);
  assert.throws(() => locateFault(m.transfer, chunk(SECTOR), 100, SECTOR), RangeError);
});

test('findReadableEnd: the first unreadable sector of a drive that ends early', () => {
  for (const end of [0, SECTOR, 7 << 20, (16 << 20) - SECTOR, 16 << 20]) {
    let reads = 0;
    const got = findReadableEnd((o) => (reads++, o < end), 0, 16 << 20, SECTOR);
    assert.equal(got, end);
    assert.ok(reads <= 16, `${reads} reads`);
  }
});
