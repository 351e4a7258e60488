import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { parsePartitionTable, readFromBuffer } from './partition-table';
import { layoutOfFile } from './drive-layout';
import { tempDir } from '../testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../testing/run-tool';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../testing/loop-device';

/**
 * The partition-table parser against tables written by sfdisk, checked
 * against what sfdisk itself reads back (`sfdisk --json`).
 */

interface SfdiskJson {
  partitiontable: {
    label: 'dos' | 'gpt';
    id: string;
    sectorsize: number;
    partitions: { node: string; start: number; size: number; type: string; uuid?: string; name?: string; bootable?: boolean }[];
  };
}

async function sfdisk(target: string, script: string): Promise<SfdiskJson> {
  await runTool('sfdisk', ['-q', target], { input: script });
  return JSON.parse((await runTool('sfdisk', ['--json', target])).stdout) as SfdiskJson;
}

function imageFile(dir: string, name: string, size: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  return file;
}

function readerOf(file: string): (offset: number, length: number) => Uint8Array | null {
  const data = fs.readFileSync(file);
  return readFromBuffer(data);
}

const partNumber = (node: string): number => Number(/(\d+)$/.exec(node)?.[1]);

test('MBR: primaries, the bootable flag, an extended partition and its logical partitions match sfdisk', async () => {
  const t = tempDir('mbr');
  try {
    const file = imageFile(t.dir, 'mbr.img', 64 << 20);
    const expected = await sfdisk(file, 'label: dos\n,8M,c,*\n,8M,83\n,,5\n,4M,83\n,4M,82\n');
    const table = parsePartitionTable(readerOf(file));
    assert.ok(table);
    assert.equal(table.type, 'mbr');
    assert.equal(`0x${table.diskId}`, expected.partitiontable.id);
    assert.deepEqual(
      table.partitions.map((p) => ({ number: p.number, start: p.start / 512, size: p.size / 512, type: p.type.replace(/^0/, ''), bootable: p.bootable })),
      expected.partitiontable.partitions.map((p) => ({ number: partNumber(p.node), start: p.start, size: p.size, type: p.type, bootable: p.bootable === true })),
    );
    assert.equal(table.partitions.find((p) => p.number === 6)?.typeName, 'Linux swap');
    assert.deepEqual(table.notes, []);
  } finally {
    t.remove();
  }
});

test('MBR from the head of a stream only: logical partitions beyond it are reported as not examined', async () => {
  const t = tempDir('mbr-head');
  try {
    const file = imageFile(t.dir, 'mbr.img', 64 << 20);
    await sfdisk(file, 'label: dos\n,20M,83\n,,5\n,4M,83\n');
    const head = fs.readFileSync(file).subarray(0, 1 << 20);
    const table = parsePartitionTable(readFromBuffer(head));
    assert.ok(table);
    assert.deepEqual(table.partitions.map((p) => p.number), [1, 2]);
    assert.match(table.notes.join(' '), /beyond the part of the image that was examined/);
  } finally {
    t.remove();
  }
});

test('GPT (512-byte sectors): GUIDs, names and types match sfdisk', async () => {
  const t = tempDir('gpt');
  try {
    const file = imageFile(t.dir, 'gpt.img', 48 << 20);
    const expected = await sfdisk(file, 'label: gpt\nsize=4M, type=U, name=esp\nsize=16M, type=L, name="root fs"\ntype=S\n');
    const table = parsePartitionTable(readerOf(file));
    assert.ok(table);
    assert.equal(table.type, 'gpt');
    assert.equal(table.sectorSize, 512);
    assert.equal(table.diskId?.toUpperCase(), expected.partitiontable.id);
    assert.deepEqual(
      table.partitions.map((p) => ({ number: p.number, start: p.start / 512, size: p.size / 512, type: p.type.toUpperCase(), uuid: p.uuid?.toUpperCase(), name: p.name ?? undefined })),
      expected.partitiontable.partitions.map((p) => ({ number: partNumber(p.node), start: p.start, size: p.size, type: p.type, uuid: p.uuid, name: p.name })),
    );
    assert.deepEqual(table.partitions.map((p) => p.typeName), ['EFI System', 'Linux filesystem', 'Linux swap']);
    assert.deepEqual(table.notes, []);
  } finally {
    t.remove();
  }
});

test('GPT with 4096-byte sectors (written through a 4K-sector loop device)', async () => {
  const t = tempDir('gpt4k');
  let loop: LoopDevice | null = null;
  try {
    const file = imageFile(t.dir, 'gpt4k.img', 64 << 20);
    loop = await createLoopDevice(64 << 20, { file, sectorSize: 4096, directIo: false });
    const expected = await sfdisk(loop.device, 'label: gpt\n,8M,U\n,,L\n');
    assert.equal(expected.partitiontable.sectorsize, 4096);
    await removeLoopDevice(loop);
    loop = null;
    const table = parsePartitionTable(readerOf(file));
    assert.ok(table);
    assert.equal(table.sectorSize, 4096);
    assert.deepEqual(
      table.partitions.map((p) => [p.start, p.size]),
      expected.partitiontable.partitions.map((p) => [p.start * 4096, p.size * 4096]),
    );
  } finally {
    await removeLoopDevice(loop);
    t.remove();
  }
});

test('a damaged GPT header is reported, not trusted', async () => {
  const t = tempDir('gpt-bad');
  try {
    const file = imageFile(t.dir, 'gpt.img', 16 << 20);
    await sfdisk(file, 'label: gpt\n,,L\n');
    const data = fs.readFileSync(file);
    data[512 + 0x40] = (data[512 + 0x40] as number) ^ 0xff; // inside the header, covered by its CRC
    const table = parsePartitionTable(readFromBuffer(data));
    assert.ok(table);
    assert.equal(table.type, 'gpt');
    assert.deepEqual(table.partitions, []);
    assert.match(table.notes.join(' '), /checksum does not match/);
  } finally {
    t.remove();
  }
});

test('no partition table: blank space, and a FAT filesystem on the whole drive (its boot sector also ends in 55 AA)', async () => {
  const t = tempDir('superfloppy');
  try {
    const blank = imageFile(t.dir, 'blank.img', 4 << 20);
    assert.equal(parsePartitionTable(readerOf(blank)), null);
    const fat = imageFile(t.dir, 'fat.img', 32 << 20);
    await runTool('mkfs.vfat', ['-n', 'WHOLE', fat], SLOW_TOOL_MS);
    const data = fs.readFileSync(fat);
    assert.equal(data[510], 0x55);
    assert.equal(data[511], 0xaa);
    assert.equal(parsePartitionTable(readFromBuffer(data)), null);
    const layout = layoutOfFile(fat, data.length, false);
    assert.equal(layout.partitionTable, null);
    assert.equal(layout.filesystem?.type, 'vfat');
    assert.equal(layout.filesystem?.label, 'WHOLE');
  } finally {
    t.remove();
  }
});
