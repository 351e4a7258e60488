import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartitionInfo } from '../../shared/backup-metadata';
import { segmentsOf } from './drive-map';

const MiB = 1024 * 1024;
const part = (number: number, start: number, size: number, fs: { type: string; label: string | null } | null, typeName = 'Linux'): PartitionInfo => ({
  number, start, size, type: '83', typeName, name: null, uuid: null, bootable: false, filesystem: fs ? { ...fs, uuid: null } : null,
});

test('partitions in order, to scale of the drive, with the free space after them; small alignment gaps are not drawn', () => {
  const { segments, span } = segmentsOf({
    size: 64 * MiB,
    filesystem: null,
    partitions: [part(2, 22 * MiB, 20 * MiB, { type: 'ext4', label: 'rootfs' }), part(1, 1 * MiB, 20 * MiB, { type: 'vfat', label: 'BOOT' })],
  });
  assert.equal(span, 64 * MiB);
  assert.deepEqual(segments.map((s) => [s.text, s.start, s.size]), [
    ['1: vfat "BOOT"', 1 * MiB, 20 * MiB],
    ['2: ext4 "rootfs"', 22 * MiB, 20 * MiB],
    ['Unpartitioned', 42 * MiB, 22 * MiB],
  ]);
});

test('an extended partition is a container, not drawn; an unknown size ends at the last partition; no table: the whole-drive filesystem', () => {
  const { segments, span } = segmentsOf({
    size: null,
    filesystem: null,
    partitions: [part(1, MiB, 8 * MiB, null), part(2, 9 * MiB, 40 * MiB, null, 'Extended'), part(5, 10 * MiB, 30 * MiB, { type: 'ntfs', label: null })],
  });
  assert.equal(span, 40 * MiB);
  assert.deepEqual(segments.map((s) => s.text), ['1: no filesystem recognised', '5: ntfs']);
  const whole = segmentsOf({ size: 16 * MiB, filesystem: { type: 'iso9660', label: 'DEBIAN', uuid: null }, partitions: [] });
  assert.deepEqual(whole.segments.map((s) => s.text), ['Whole drive: iso9660 "DEBIAN"']);
});

test('used bytes (from planBackup) go to the partition of that number; free space and partitions not planned have none', () => {
  const { segments } = segmentsOf({
    size: 64 * MiB,
    filesystem: null,
    partitions: [part(1, 1 * MiB, 20 * MiB, { type: 'vfat', label: null }), part(2, 22 * MiB, 20 * MiB, null)],
    usedBytes: { 1: 3 * MiB },
  });
  assert.deepEqual(segments.map((s) => [s.key, s.used]), [['p1', 3 * MiB], ['p2', null], [`gap-${42 * MiB}`, null]]);
});
