import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTool } from '../testing/run-tool';
import { extDriver } from './ext/ext-driver';
import { swapDriver } from './swap-driver';
import { volumeFromFd } from './volume';

let work: string;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-swap-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

async function mkswap(name: string, size: number, args: string[] = []): Promise<string> {
  const file = path.join(work, name);
  fs.writeFileSync(file, Buffer.alloc(size, 0xa5)); // old data everywhere
  await runTool('mkswap', [...args, file]);
  return file;
}

async function allocationOf(file: string) {
  const fd = fs.openSync(file, 'r');
  try {
    return await swapDriver.allocation!(volumeFromFd(fd, 0, fs.fstatSync(fd).size));
  } finally {
    fs.closeSync(fd);
  }
}

const head = (file: string) => fs.readFileSync(file).subarray(0, 72 * 1024);

describe('Linux swap', () => {
  it('keeps only the header page of a mkswap area', async () => {
    const file = await mkswap('swap.img', 8 << 20, ['-L', 'myswap']);
    assert.equal(swapDriver.detect(head(file)), true);
    assert.equal(extDriver.detect(head(file)), false);
    const map = await allocationOf(file);
    assert.deepEqual(map, { kind: 'used-blocks', filesystem: 'swap', blockSize: 4096, usedBytes: 4096, ranges: [{ start: 0, length: 4096 }] });
    // The label and UUID mkswap wrote lie inside the kept page.
    const blkid = (await runTool('blkid', ['-o', 'export', file])).stdout;
    assert.match(blkid, /LABEL=myswap/);
    assert.ok(fs.readFileSync(file).subarray(0, 4096).includes('myswap'));
  });

  it('finds a 64 KiB-page swap area (aarch64, ppc64)', async () => {
    const file = await mkswap('swap64k.img', 8 << 20, ['-p', '65536']);
    assert.equal(swapDriver.detect(head(file)), true);
    const map = await allocationOf(file);
    assert.equal(map.kind, 'used-blocks');
    if (map.kind === 'used-blocks') assert.deepEqual(map.ranges, [{ start: 0, length: 65536 }]);
  });

  it('copies a swap area holding a hibernation image whole', async () => {
    const file = await mkswap('hib.img', 8 << 20);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('S1SUSPEND\0', 'latin1'), 0, 10, 4096 - 10);
    fs.closeSync(fd);
    assert.equal(swapDriver.detect(head(file)), true);
    const map = await allocationOf(file);
    assert.equal(map.kind, 'whole');
    if (map.kind === 'whole') assert.match(map.reason, /hibernation image \(S1SUSPEND\)/);
  });

  it('does not claim an ext4 volume or zeros', async () => {
    const file = path.join(work, 'ext.img');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 8 << 20);
    await runTool('mkfs.ext4', ['-q', file]);
    assert.equal(swapDriver.detect(head(file)), false);
    assert.equal((await allocationOf(file)).kind, 'whole');
    assert.equal(swapDriver.detect(Buffer.alloc(72 * 1024)), false);
    assert.equal(swapDriver.detect(Buffer.alloc(100)), false);
  });
});
