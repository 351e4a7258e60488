import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { PROBE_BYTES, probeFilesystem } from './filesystem-probe';
import { readFromBuffer } from './partition-table';
import { fileReader } from './drive-layout';
import { tempDir } from '../testing/test-drives';
import { runTool } from '../testing/run-tool';

/**
 * The superblock probe against filesystems made by their own mkfs tools,
 * checked against what blkid (low-level probing, -p) says about the same bytes.
 */

interface Case {
  name: string;
  tool: string;
  /** Bytes of the (sparse) image; some mkfs tools have a minimum. */
  size: number;
  make: (file: string, dir: string) => [string, string[]];
  /** blkid prints no comparable UUID for some formats (iso9660's is a date). */
  compareUuid?: boolean;
}

const LABEL = 'IMPRINTLBL';

const CASES: Case[] = [
  { name: 'ext2', tool: 'mkfs.ext2', size: 16 << 20, make: (f) => ['mkfs.ext2', ['-q', '-F', '-L', LABEL, f]] },
  { name: 'ext3', tool: 'mkfs.ext3', size: 16 << 20, make: (f) => ['mkfs.ext3', ['-q', '-F', '-L', LABEL, f]] },
  { name: 'ext4', tool: 'mkfs.ext4', size: 16 << 20, make: (f) => ['mkfs.ext4', ['-q', '-F', '-L', LABEL, f]] },
  { name: 'vfat (FAT16)', tool: 'mkfs.vfat', size: 32 << 20, make: (f) => ['mkfs.vfat', ['-F', '16', '-n', LABEL, f]] },
  { name: 'vfat (FAT32)', tool: 'mkfs.vfat', size: 64 << 20, make: (f) => ['mkfs.vfat', ['-F', '32', '-n', LABEL, f]] },
  { name: 'exfat', tool: 'mkfs.exfat', size: 32 << 20, make: (f) => ['mkfs.exfat', ['-L', LABEL, f]] },
  { name: 'ntfs', tool: 'mkntfs', size: 32 << 20, make: (f) => ['mkntfs', ['-q', '-F', '-Q', '-L', LABEL, f]] },
  { name: 'xfs', tool: 'mkfs.xfs', size: 320 << 20, make: (f) => ['mkfs.xfs', ['-q', '-f', '-L', LABEL, f]] },
  { name: 'btrfs', tool: 'mkfs.btrfs', size: 160 << 20, make: (f) => ['mkfs.btrfs', ['-q', '-f', '-L', LABEL, f]] },
  { name: 'swap', tool: 'mkswap', size: 16 << 20, make: (f) => ['mkswap', ['-L', LABEL, f]] },
  { name: 'iso9660', tool: 'genisoimage', size: 0, compareUuid: false, make: (f, d) => ['genisoimage', ['-quiet', '-V', LABEL, '-o', f, d]] },
  { name: 'squashfs', tool: 'mksquashfs', size: 0, make: (f, d) => ['mksquashfs', [d, f, '-quiet', '-noappend']] },
];

async function which(cmd: string): Promise<boolean> {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (fs.existsSync(path.join(dir, cmd))) return true;
  return false;
}

function blkidFields(out: string): Record<string, string> {
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

for (const c of CASES) {
  test(`probe recognises ${c.name} as blkid does`, async (t) => {
    if (!(await which(c.tool))) {
      t.skip(`${c.tool} is not installed (see .ci/apt-packages)`);
      return;
    }
    const tmp = tempDir('probe');
    try {
      const file = path.join(tmp.dir, 'fs.img');
      const content = path.join(tmp.dir, 'content');
      fs.mkdirSync(content);
      fs.writeFileSync(path.join(content, 'hello.txt'), 'hello\n');
      if (c.size > 0) {
        fs.writeFileSync(file, '');
        fs.truncateSync(file, c.size);
      }
      const [cmd, args] = c.make(file, content);
      await runTool(cmd, args);
      const blkid = blkidFields((await runTool('blkid', ['-p', '-o', 'export', file])).stdout);
      const fd = fs.openSync(file, 'r');
      let found;
      try {
        found = probeFilesystem(fileReader(fd, fs.fstatSync(fd).size, false));
      } finally {
        fs.closeSync(fd);
      }
      assert.ok(found, `nothing recognised; blkid says ${JSON.stringify(blkid)}`);
      assert.equal(found.type, blkid.TYPE);
      assert.equal(found.label, blkid.LABEL ?? null);
      if (c.compareUuid !== false) assert.equal(found.uuid, blkid.UUID ?? null);
    } finally {
      tmp.remove();
    }
  });
}

test('probe finds nothing in zeros, random bytes, or bytes cut short', () => {
  assert.equal(probeFilesystem(readFromBuffer(Buffer.alloc(PROBE_BYTES))), null);
  const random = Buffer.alloc(PROBE_BYTES);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  assert.equal(probeFilesystem(readFromBuffer(random)), null);
  assert.equal(probeFilesystem(readFromBuffer(Buffer.alloc(100))), null);
});
