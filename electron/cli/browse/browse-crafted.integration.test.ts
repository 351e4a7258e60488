import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { hostTree, makeExt4, makeFat, MIB } from './browse-fixtures';
import { rows } from './browse-checks';

/**
 * Crafted and damaged filesystems (issue #16): names edited by hand in the
 * image's bytes to `../../x` and `/etc/xx`, a folder linked into its own
 * subfolder (debugfs ln), and a folder whose entry block is zeroed. `imprint extract`
 * writes nothing outside DEST, ends, and reports each such entry; the rest
 * is listed and extracted.
 */

const t = tempDir('browse-crafted');
const ext = path.join(t.dir, 'crafted-ext.img');
const fat = path.join(t.dir, 'crafted-fat.img');

/** Replaces the one occurrence of `from` in `file` with `to` (same length). */
function patchOnce(file: string, from: Buffer, to: Buffer, at?: (hit: number) => void): void {
  const data = fs.readFileSync(file);
  const hit = data.indexOf(from);
  assert.ok(hit >= 0, `${from.toString('latin1')} found in ${file}`);
  assert.equal(data.indexOf(from, hit + 1), -1, 'exactly once');
  to.copy(data, hit);
  at?.(hit);
  if (at) return void fs.writeFileSync(file, data);
  fs.writeFileSync(file, data);
}

before(async () => {
  const tree = path.join(t.dir, 'tree');
  fs.mkdirSync(path.join(tree, 'loop', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'broken'));
  fs.writeFileSync(path.join(tree, 'broken', 'lost.txt'), 'gone');
  fs.writeFileSync(path.join(tree, 'XXXXXXX'), 'escape by dots');
  fs.writeFileSync(path.join(tree, 'YYYYYYY'), 'escape by absolute path');
  fs.writeFileSync(path.join(tree, 'loop', 'inside.txt'), 'in the loop');
  fs.writeFileSync(path.join(tree, 'good.txt'), 'fine');
  // No metadata checksums: the hand edits below would otherwise be refused as damage, not tested as names.
  await makeExt4(ext, 8 * MIB, tree, { csum: false });
  patchOnce(ext, Buffer.from('XXXXXXX'), Buffer.from('../../x'));
  patchOnce(ext, Buffer.from('YYYYYYY'), Buffer.from('/etc/xx'));
  await runTool('debugfs', ['-w', '-R', 'ln /loop /loop/sub/up', ext], SLOW_TOOL_MS);
  const blocks = (await runTool('debugfs', ['-R', 'blocks /broken', ext], SLOW_TOOL_MS)).stdout.trim().split(/\s+/).map(Number);
  const blockSize = Number(/Block size:\s+(\d+)/.exec((await runTool('dumpe2fs', ['-h', ext], SLOW_TOOL_MS)).stdout)![1]);
  assert.ok(blocks.length >= 1 && blocks[0]! > 0);
  const fd = fs.openSync(ext, 'r+');
  fs.writeSync(fd, Buffer.alloc(blockSize), 0, blockSize, blocks[0]! * blockSize);
  fs.closeSync(fd);

  // FAT: a long name edited in its LFN entry (mixed case needs one; chars 1-5 at +1, 6-11 at +14); its 8.3 checksum still matches.
  const ftree = path.join(t.dir, 'ftree');
  fs.mkdirSync(ftree);
  fs.writeFileSync(path.join(ftree, 'Qqqqqqq'), 'escape on FAT');
  fs.writeFileSync(path.join(ftree, 'fine.txt'), 'fine');
  await makeFat(fat, 34 * MIB, ftree);
  const data = fs.readFileSync(fat);
  const hit = data.indexOf(Buffer.from('Qqqqq', 'utf16le'));
  assert.ok(hit > 0);
  Buffer.from('../..', 'utf16le').copy(data, hit);
  Buffer.from('/x', 'utf16le').copy(data, hit - 1 + 14);
  fs.writeFileSync(fat, data);
});

after(() => t.remove());

test('ext: crafted names and a self-containing folder are reported and skipped; nothing lands outside DEST', async () => {
  const box = fs.mkdtempSync(path.join(t.dir, 'box-'));
  const dest = path.join(box, 'a', 'dest');
  const r = await runCli(['extract', ext, '1:/', dest, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const problems = rows(r.stdout).filter((x) => x.type === 'problem') as unknown as { path: string; message: string }[];
  const about = (p: string): string | undefined => problems.find((x) => x.path === p)?.message;
  assert.match(about('/../../x') ?? '', /skipped: .*leave|path/);
  assert.match(about('//etc/xx') ?? about('/etc/xx') ?? '', /skipped: .*"\/"/);
  assert.match(about('/loop/sub/up') ?? '', /contains itself/);
  assert.match(about('/broken') ?? '', /cannot be listed/);
  // Outside DEST: only the folders leading to it.
  assert.deepEqual([...hostTree(box).keys()].filter((p) => !p.startsWith('/a/dest')).sort(), ['/a']);
  assert.ok(!fs.existsSync('/etc/xx'));
  const got = hostTree(dest);
  assert.equal(fs.readFileSync(path.join(dest, 'good.txt'), 'utf8'), 'fine');
  assert.equal(fs.readFileSync(path.join(dest, 'loop', 'inside.txt'), 'utf8'), 'in the loop');
  // The looping folder is made, empty: its contents are the folder above, not entered.
  assert.deepEqual([...got.keys()].filter((p) => p.startsWith('/loop/sub/up/')), []);

  const ls = await runCli(['ls', ext, '1:/', '-R', '--json']);
  assert.equal(ls.code, 1, 'a damaged folder makes the listing incomplete');
  const paths = rows(ls.stdout).filter((x) => x.type === 'entry').map((x) => x.path);
  for (const p of ['/good.txt', '/loop/inside.txt', '/loop/sub/up', '/broken']) assert.ok(paths.includes(p), `${p} listed`);
  assert.ok(!paths.includes('/loop/sub/up/sub'), 'the loop is not entered');
});

test('FAT: a long name edited to ../../x is reported and skipped', async () => {
  const box = fs.mkdtempSync(path.join(t.dir, 'fbox-'));
  const dest = path.join(box, 'a', 'dest');
  const r = await runCli(['extract', fat, '1:/', dest, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const problems = rows(r.stdout).filter((x) => x.type === 'problem') as unknown as { path: string; message: string }[];
  assert.ok(problems.some((p) => p.path === '/../../x' && /skipped/.test(p.message)), JSON.stringify(problems));
  assert.deepEqual([...hostTree(box).keys()].filter((p) => !p.startsWith('/a/dest')), ['/a']);
  assert.deepEqual([...hostTree(dest).keys()], ['/fine.txt']);
});
