import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Drive } from './drive';
import type { ErrorCode } from './error-codes';
import { fakeDrive } from './testing/drive-fixtures';
import {
  LARGE_DRIVE_BYTES,
  compareDrives,
  holdsImage,
  isLarge,
  isShownByDefault,
  isTooSmall,
  refusalsFor,
  warningsFor,
  type ImageFacts,
} from './drive-constraints';

function image(over: Partial<ImageFacts> = {}): ImageFacts {
  return { path: '/home/ann/Downloads/os.img', size: 4e9, sourceDevice: null, ...over };
}

const codes = (d: Drive, i: ImageFacts): ErrorCode[] => refusalsFor(d, i).map((r) => r.code);

test('refusalsFor: one rule at a time', async (t) => {
  const cases: { name: string; drive: Partial<Drive>; image?: Partial<ImageFacts>; expect: ErrorCode[] }[] = [
    { name: 'a fitting removable drive may be written', drive: {}, expect: [] },
    { name: 'system drive', drive: { system: true }, expect: ['E_TARGET_SYSTEM'] },
    { name: 'read-only drive', drive: { readOnly: true }, expect: ['E_TARGET_READ_ONLY'] },
    { name: 'one byte too small', drive: { size: 4e9 - 1 }, expect: ['E_TARGET_TOO_SMALL'] },
    { name: 'exactly the image size fits', drive: { size: 4e9 }, expect: [] },
    { name: 'size unknown up front: cannot judge, not refused', drive: { size: 1e6 }, image: { size: null }, expect: [] },
    { name: 'size 0 (no medium) with a known image size', drive: { size: 0 }, expect: ['E_TARGET_TOO_SMALL'] },
    { name: 'size 0 even when the image size is unknown', drive: { size: 0 }, image: { size: null }, expect: ['E_TARGET_TOO_SMALL'] },
    { name: 'negative size is no medium too', drive: { size: -1 }, image: { size: null }, expect: ['E_TARGET_TOO_SMALL'] },
    { name: 'image on a partition of the drive', drive: { mountpoints: ['/home'] }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'image on the drive mounted at /', drive: { mountpoints: ['/'] }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'mountpoint with a trailing slash', drive: { mountpoints: ['/home/ann/'] }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'image is the mountpoint path itself', drive: { mountpoints: ['/home/ann/Downloads/os.img'] }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'a sibling folder sharing a prefix is not "under"', drive: { mountpoints: ['/home/an', '/home/ann/Down'] }, expect: [] },
    { name: 'mounted elsewhere, image not on it', drive: { mountpoints: ['/media/ann/STICK'] }, expect: [] },
    { name: 'image path is the device itself', drive: {}, image: { path: '/dev/sdb' }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'source device is the drive (clone onto itself)', drive: {}, image: { path: null, sourceDevice: '/dev/sdb' }, expect: ['E_TARGET_HOLDS_SOURCE'] },
    { name: 'source device is another drive', drive: {}, image: { path: null, sourceDevice: '/dev/sdc' }, expect: [] },
    { name: 'no image path (a stream) and no source device', drive: { mountpoints: ['/'] }, image: { path: null }, expect: [] },
    { name: 'Windows-style mountpoint', drive: { mountpoints: ['D:\\'] }, image: { path: 'D:\\images\\os.img' }, expect: ['E_TARGET_HOLDS_SOURCE'] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.deepEqual(codes(fakeDrive(c.drive), image(c.image)), c.expect);
    });
  }
});

test('refusalsFor: every reason, most serious first, each naming the device', () => {
  const d = fakeDrive({ device: '/dev/nvme0n1', system: true, readOnly: true, size: 1e9, mountpoints: ['/'] });
  const refusals = refusalsFor(d, image());
  assert.deepEqual(
    refusals.map((r) => r.code),
    ['E_TARGET_SYSTEM', 'E_TARGET_HOLDS_SOURCE', 'E_TARGET_READ_ONLY', 'E_TARGET_TOO_SMALL'],
  );
  for (const r of refusals) assert.match(r.reason, /\/dev\/nvme0n1/);
  const tooSmall = refusals.find((r) => r.code === 'E_TARGET_TOO_SMALL');
  assert.match(tooSmall?.reason ?? '', /1000000000 bytes.*4000000000/);
});

test('refusalsFor: size 0 is reported once, as no medium, not also as too small', () => {
  const refusals = refusalsFor(fakeDrive({ size: 0 }), image());
  assert.equal(refusals.length, 1);
  assert.match(refusals[0]?.reason ?? '', /size of 0/);
});

test('holdsImage and isTooSmall agree with refusalsFor', () => {
  const grid: [Partial<Drive>, Partial<ImageFacts>][] = [
    [{}, {}],
    [{ mountpoints: ['/home'] }, {}],
    [{ size: 1 }, {}],
    [{ size: 1 }, { size: null }],
    [{}, { path: '/dev/sdb' }],
    [{}, { sourceDevice: '/dev/sdb', path: null }],
  ];
  for (const [d, i] of grid) {
    const dr = fakeDrive(d);
    const im = image(i);
    const c = codes(dr, im);
    assert.equal(holdsImage(dr, im), c.includes('E_TARGET_HOLDS_SOURCE'), JSON.stringify([d, i]));
    assert.equal(isTooSmall(dr, im) && dr.size > 0, c.includes('E_TARGET_TOO_SMALL'), JSON.stringify([d, i]));
  }
});

test('large-drive warning starts just above 128 GB', () => {
  assert.equal(LARGE_DRIVE_BYTES, 128e9);
  const table: [number, boolean][] = [
    [8e9, false],
    [128e9, false],
    [128e9 + 1, true],
    [256e9, true],
    [2e12, true],
  ];
  for (const [size, large] of table) {
    assert.equal(isLarge(fakeDrive({ size })), large, `size ${size}`);
    const warnings = warningsFor(fakeDrive({ size }));
    assert.equal(warnings.some((w) => /larger than 128 GB/.test(w)), large, `size ${size}: ${warnings.join('; ')}`);
  }
  // A large drive is warned about, never refused for its size.
  assert.deepEqual(codes(fakeDrive({ size: 2e12, removable: false }), image()), []);
});

test('warningsFor: a loop device is named as one; a plain stick gets no warning', () => {
  assert.deepEqual(warningsFor(fakeDrive()), []);
  const loop = warningsFor(fakeDrive({ device: '/dev/loop3', virtual: true, bus: 'loop', removable: false }));
  assert.equal(loop.length, 1);
  assert.match(loop[0] ?? '', /\/dev\/loop3 is a loop device/);
  assert.equal(warningsFor(fakeDrive({ virtual: true, size: 500e9 })).length, 2);
});

test('compareDrives: removable first, system drives last, then by device path in natural order', () => {
  const drives: Drive[] = [
    fakeDrive({ device: '/dev/sda', removable: false, system: true }),
    fakeDrive({ device: '/dev/sdc10', removable: true }),
    fakeDrive({ device: '/dev/nvme0n1', removable: false }),
    fakeDrive({ device: '/dev/loop2', removable: false, virtual: true }),
    fakeDrive({ device: '/dev/sdc2', removable: true }),
    fakeDrive({ device: '/dev/loop10', removable: false, virtual: true }),
    fakeDrive({ device: '/dev/mmcblk0', removable: true }),
    fakeDrive({ device: '/dev/nvme1n1', removable: false, system: true }),
  ];
  const order = (list: Drive[]): string[] => [...list].sort(compareDrives).map((d) => d.device);
  const expected = ['/dev/mmcblk0', '/dev/sdc2', '/dev/sdc10', '/dev/loop2', '/dev/loop10', '/dev/nvme0n1', '/dev/nvme1n1', '/dev/sda'];
  assert.deepEqual(order(drives), expected);
  assert.deepEqual(order([...drives].reverse()), expected, 'the order does not depend on the input order');
  assert.equal(compareDrives(drives[1] as Drive, drives[1] as Drive), 0);
});

test('isShownByDefault hides system drives and loop devices only', () => {
  const table: [Partial<Drive>, boolean][] = [
    [{}, true],
    [{ removable: false, bus: 'sata' }, true],
    [{ readOnly: true }, true],
    [{ size: 0 }, true],
    [{ system: true }, false],
    [{ virtual: true, bus: 'loop' }, false],
    [{ system: true, virtual: true }, false],
  ];
  for (const [d, shown] of table) assert.equal(isShownByDefault(fakeDrive(d)), shown, JSON.stringify(d));
});
