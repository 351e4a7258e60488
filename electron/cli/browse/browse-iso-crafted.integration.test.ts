import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { rows } from './browse-checks';
import { hostTree } from './browse-fixtures';

/**
 * ISO 9660 images made by genisoimage, then edited by hand (issue #16): a
 * file split into two extents (the multi-extent form files of 4 GiB and
 * more take, made small here), a folder record pointing back at the root,
 * a Rock Ridge name edited to "../../x", and an image cut short. Nothing
 * lands outside DEST, every command ends, and each damaged entry is reported.
 */

const t = tempDir('browse-iso-crafted');
const partA = crypto.randomBytes(4096);
const partB = crypto.randomBytes(1000);
let plain: string;
let named: string;

/** Offset of the directory record whose identifier is `id` (exactly one). */
function recordOf(data: Buffer, id: string): number {
  const needle = Buffer.concat([Buffer.from([id.length]), Buffer.from(id, 'latin1')]);
  const hit = data.indexOf(needle);
  assert.ok(hit > 0, `${id} found`);
  assert.equal(data.indexOf(needle, hit + 1), -1, `${id}: exactly once`);
  return hit - 32;
}

before(async () => {
  const tree = path.join(t.dir, 'tree');
  fs.mkdirSync(path.join(tree, 'SUB', 'LOOP'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'AAAA.BIN'), partA);
  fs.writeFileSync(path.join(tree, 'AAAB.BIN'), partB);
  fs.writeFileSync(path.join(tree, 'SUB', 'LOOP', 'IN.TXT'), 'inside\n');
  fs.writeFileSync(path.join(tree, 'GOOD.TXT'), 'fine\n');
  plain = path.join(t.dir, 'plain.iso');
  await runTool('genisoimage', ['-quiet', '-o', plain, tree], SLOW_TOOL_MS);
  const data = fs.readFileSync(plain);
  // AAAA.BIN becomes the first extent of AAAB.BIN: same name, "not the last extent" flag.
  const a = recordOf(data, 'AAAA.BIN;1');
  data.write('AAAB', a + 33, 'latin1');
  data[a + 25] = data[a + 25]! | 0x80;
  // SUB/LOOP points at the root folder's extent (the root record sits at 156 in the primary descriptor).
  const rootExtent = data.readUInt32LE(16 * 2048 + 156 + 2);
  const loop = recordOf(data, 'LOOP');
  data.writeUInt32LE(rootExtent, loop + 2);
  data.writeUInt32BE(rootExtent, loop + 6);
  fs.writeFileSync(plain, data);

  const rtree = path.join(t.dir, 'rtree');
  fs.mkdirSync(rtree);
  fs.writeFileSync(path.join(rtree, 'XXXXXXX'), 'escape by dots');
  fs.writeFileSync(path.join(rtree, 'good.txt'), 'fine');
  named = path.join(t.dir, 'named.iso');
  await runTool('genisoimage', ['-quiet', '-R', '-o', named, rtree], SLOW_TOOL_MS);
  const n = fs.readFileSync(named);
  // The Rock Ridge NM entry holds the name after 5 bytes of header; the ISO name ("XXXXXXX.;1") is not used when NM is there.
  const nm = n.indexOf(Buffer.from('NM\x0c\x01\x00XXXXXXX', 'latin1'));
  assert.ok(nm > 0, 'NM entry found');
  n.write('../../x', nm + 5, 'latin1');
  fs.writeFileSync(named, n);
});

after(() => t.remove());

test('a file in two extents reads as one, both parts in order', async () => {
  const ls = await runCli(['ls', plain, '1:/', '--json']);
  const entries = rows(ls.stdout).filter((x) => x.type === 'entry');
  assert.deepEqual(entries.filter((e) => e.path!.startsWith('/AAA')).map((e) => [e.path, e.size]), [['/AAAB.BIN', partA.length + partB.length]]);
  const dest = path.join(t.dir, 'multi');
  const x = await runCli(['extract', plain, '1:/AAAB.BIN', dest]);
  assert.equal(x.code, 0, x.stderr);
  assert.ok(fs.readFileSync(path.join(dest, 'AAAB.BIN')).equals(Buffer.concat([partA, partB])));
});

test('a folder that points back at the root is reported, not entered; the rest extracts', async () => {
  const dest = path.join(t.dir, 'loop-out');
  const x = await runCli(['extract', plain, '1:/', dest, '--json']);
  assert.equal(x.code, 1, x.stderr);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  assert.ok(problems.some((p) => p.path === '/SUB/LOOP' && /contains itself/.test(p.message)), JSON.stringify(problems));
  assert.equal(fs.readFileSync(path.join(dest, 'GOOD.TXT'), 'utf8'), 'fine\n');
  assert.deepEqual([...hostTree(path.join(dest, 'SUB', 'LOOP')).keys()], []);
});

test('a Rock Ridge name edited to ../../x is reported and skipped; nothing lands outside DEST', async () => {
  const box = fs.mkdtempSync(path.join(t.dir, 'box-'));
  const dest = path.join(box, 'a', 'dest');
  const x = await runCli(['extract', named, '1:/', dest, '--json']);
  assert.equal(x.code, 1, x.stderr);
  const problems = rows(x.stdout).filter((r) => r.type === 'problem') as unknown as { path: string; message: string }[];
  assert.ok(problems.some((p) => p.path === '/../../x' && /skipped/.test(p.message)), JSON.stringify(problems));
  assert.deepEqual([...hostTree(box).keys()].filter((p) => !p.startsWith('/a/dest')), ['/a']);
  assert.deepEqual([...hostTree(dest).keys()], ['/good.txt']);
});

test('an image cut short: the listing says so, files past the end are reported, the command ends', async () => {
  const whole = fs.readFileSync(named);
  const cut = path.join(t.dir, 'cut.iso');
  // Cut where good.txt's data starts: the descriptors and folders stay, its data goes.
  const extent = whole.readUInt32LE(recordOf(whole, 'GOOD.TXT;1') + 2);
  fs.writeFileSync(cut, whole.subarray(0, extent * 2048));
  const ls = await runCli(['ls', cut, '1:/', '--json']);
  assert.match(ls.stderr + ls.stdout, /shorter than its ISO 9660 filesystem/);
  const x = await runCli(['extract', cut, '1:/good.txt', path.join(t.dir, 'cut-out'), '--json']);
  assert.equal(x.code, 1, x.stderr);
  assert.match(x.stdout, /outside the image/);
});
