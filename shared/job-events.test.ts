import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { notableDiskBytes } from './job-events';

test('the space a folder backup takes on its disk is shown only where clusters make it notably more than the data', () => {
  assert.equal(notableDiskBytes({ newStoredBytes: 400e6, newDiskBytes: 1.5e9 }), 1.5e9, 'exFAT with 128 KiB clusters');
  assert.equal(notableDiskBytes({ newStoredBytes: 400e6, newDiskBytes: 412e6 }), null, '4 KiB blocks round up a few per cent');
  assert.equal(notableDiskBytes({ newStoredBytes: 400e6, newDiskBytes: 500e6 }), 500e6, 'a quarter more is said');
  assert.equal(notableDiskBytes({ newStoredBytes: 400e6 }), null, 'a filesystem that does not report its allocation');
});
