import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from '../../engine/testing/loop-device';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { rows } from './browse-checks';
import { MIB } from './browse-fixtures';

/**
 * A folder of 10,000 files (issue #16), in ext4 (indexed: htree) and ISO
 * 9660 with Rock Ridge: every name listed, and the folder extracted.
 * browse-limits.integration.test.ts has the 4 GiB file, hard links and
 * names the destination cannot hold.
 */

const t = tempDir('browse-scale');
after(() => t.remove());

const FILES = 10_000;
const name = (i: number): string => `file-${String(i).padStart(5, '0')}.txt`;

test('10,000 files in one folder: ext4 (htree) and ISO 9660 list all of them, and extract with the right contents', async () => {
  const tree = path.join(t.dir, 'many');
  fs.mkdirSync(path.join(tree, 'big-folder'), { recursive: true });
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(tree, 'big-folder', name(i)), `content of ${i}\n`);
  // The kernel fills the ext4 image (mkfs.ext4 -d takes 40 s here: it scans the unindexed folder for every name it adds) and indexes the folder as it grows.
  const ext = path.join(t.dir, 'many-ext4.img');
  fs.writeFileSync(ext, '');
  fs.truncateSync(ext, 64 * MIB);
  await runTool('mkfs.ext4', ['-q', '-F', '-L', 'MANY', ext], SLOW_TOOL_MS);
  const mnt = path.join(t.dir, 'mnt');
  fs.mkdirSync(mnt);
  const loop = await attachLoop(ext);
  try {
    await runTool('mount', [loop, mnt], SLOW_TOOL_MS);
    try {
      await runTool('cp', ['-a', path.join(tree, 'big-folder'), mnt], SLOW_TOOL_MS);
    } finally {
      await runTool('umount', [mnt], SLOW_TOOL_MS);
    }
  } finally {
    await detachLoop(loop);
  }
  assert.match((await runTool('debugfs', ['-R', 'stat /big-folder', ext], SLOW_TOOL_MS)).stdout, /Flags: 0x[0-9a-f]*1[0-9a-f]{3}\b/, 'the folder is indexed (htree)');
  // xorriso: genisoimage takes 20 s over 10,000 files here.
  const iso = path.join(t.dir, 'many.iso');
  await runTool('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', iso, tree], SLOW_TOOL_MS);
  for (const image of [ext, iso]) {
    const ls = await runCli(['ls', image, '1:/big-folder', '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const names = rows(ls.stdout).filter((r) => r.type === 'entry').map((r) => r.path!.split('/').pop());
    assert.deepEqual(names.sort(), Array.from({ length: FILES }, (_, i) => name(i)), path.basename(image));
    const dest = path.join(t.dir, `out-${path.basename(image)}`);
    const x = await runCli(['extract', image, '1:/big-folder', dest, '--json']);
    assert.equal(x.code, 0, x.stderr);
    const got = fs.readdirSync(path.join(dest, 'big-folder'));
    assert.equal(got.length, FILES);
    for (let i = 0; i < FILES; i += 97) assert.equal(fs.readFileSync(path.join(dest, 'big-folder', name(i)), 'utf8'), `content of ${i}\n`);
    fs.rmSync(dest, { recursive: true });
  }
});
