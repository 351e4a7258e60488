import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Drive } from './drive';
import { bytesNeeded, isTooSmall, refusalsFor, unknownSizeNote } from './drive-constraints';

const drive = (size: number): Drive => ({ device: '/dev/sdz', size, description: 'Stick', bus: 'usb', removable: true, readOnly: false, system: false, virtual: false, mountpoints: [], blockSize: 512 });

test('a lower bound refuses a smaller drive; an exact size wins over it; no bound refuses nothing', () => {
  const gz = { path: '/img.gz', size: null, minSize: 1000 };
  assert.equal(bytesNeeded(gz), 1000);
  assert.equal(isTooSmall(drive(999), gz), true);
  assert.equal(isTooSmall(drive(1000), gz), false);
  const [r] = refusalsFor(drive(999), gz);
  assert.equal(r?.code, 'E_TARGET_TOO_SMALL');
  assert.match(r?.reason ?? '', /holds 999 bytes; the image needs at least 1000/);
  assert.equal(isTooSmall(drive(1500), { path: null, size: 2000, minSize: 1000 }), true);
  assert.equal(isTooSmall(drive(1), { path: null, size: null }), false);
  assert.deepEqual(refusalsFor(drive(1), { path: null, size: null, minSize: null }), []);
});

test('the confirmation note appears only when the size is unknown, with the bound when there is one', () => {
  assert.equal(unknownSizeNote({ path: null, size: 5 }), null);
  assert.match(unknownSizeNote({ path: null, size: null }) ?? '', /^The image's uncompressed size is not known before it is decompressed: .*old data is erased\.$/);
  assert.match(unknownSizeNote({ path: null, size: null, minSize: 42 }) ?? '', /\(at least 42 bytes\)/);
});
