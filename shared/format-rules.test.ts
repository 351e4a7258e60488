import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FAT32_MAX_DRIVE_BYTES, chooseFilesystem, labelProblem, storedLabel } from './format-rules';

test('FAT32 up to 32 GiB, exFAT above, unless asked', () => {
  assert.equal(chooseFilesystem(FAT32_MAX_DRIVE_BYTES), 'fat32');
  assert.equal(chooseFilesystem(FAT32_MAX_DRIVE_BYTES + 512), 'exfat');
  assert.equal(chooseFilesystem(64e9), 'exfat');
  assert.equal(chooseFilesystem(64e9, 'fat32'), 'fat32');
  assert.equal(chooseFilesystem(8e9, 'exfat'), 'exfat');
});

test('labels: FAT32 11 ASCII characters without forbidden ones, exFAT 15, none empty or with control characters', () => {
  for (const ok of ['IMPRINT', 'my stick', 'ABCDEFGHIJK', 'a-b_c#1']) assert.equal(labelProblem(ok, 'fat32'), null, ok);
  for (const bad of ['', 'ABCDEFGHIJKL', 'a.b', 'a/b', 'x*', 'é', 'a\tb']) assert.notEqual(labelProblem(bad, 'fat32'), null, bad);
  for (const ok of ['My Stick 2026', 'Clé USB', 'a.b/c']) assert.equal(labelProblem(ok, 'exfat'), null, ok);
  for (const bad of ['', 'sixteen chars!!!', 'a\u0000b']) assert.notEqual(labelProblem(bad, 'exfat'), null, bad);
  assert.equal(storedLabel('my stick', 'fat32'), 'MY STICK');
  assert.equal(storedLabel('My Stick', 'exfat'), 'My Stick');
});
