import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { piecePath } from '../../engine/formats/backup-folder/folder-layout';
import { readGeneration, generationIds } from '../../engine/formats/backup-folder/generation-index';
import { runCli } from '../testing/run-cli';
import { MiB, ext4Drive, extFiles, randomFile, withMounted } from '../backup/backup-folder-testing';

/**
 * `imprint ls` and `imprint extract` on a backup folder generation,
 * FOLDER#GEN (issue 16): an ext4 drive backed up twice with a file changed
 * and one added between; each generation lists the files it had (as the
 * kernel's mount showed them at the time) and extracts the content it had
 * (SHA-256). A deleted piece fails the extract naming that piece; a #GEN the
 * folder does not have is refused clearly.
 */

const t = tempDir('browse-folder');
const folder = path.join(t.dir, 'backups');
let drive: LoopDevice | null = null;
let part = '';
/** Per generation: file -> SHA-256 as the mounted filesystem had it when backed up. */
const gens: Map<string, string>[] = [];

const sha = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function backup(): Promise<void> {
  gens.push(await extFiles(part, t.dir));
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes']);
  assert.equal(run.code, 0, run.stderr);
}

before(async () => {
  drive = await ext4Drive(t.dir, 'drive.img', 24 * MiB, 2 * MiB);
  part = `${drive.device}p1`;
  await withMounted(part, t.dir, (dir) => randomFile(path.join(dir, 'docs', 'report.bin'), 200 << 10));
  await backup();
  await withMounted(part, t.dir, (dir) => {
    randomFile(path.join(dir, 'docs', 'report.bin'), 300 << 10);
    randomFile(path.join(dir, 'added.bin'), 64 << 10);
  });
  await backup();
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

/** Files under 1:/ listed recursively, as `imprint ls -R` prints them (folders end in /). */
async function listed(ref: string): Promise<string[]> {
  const r = await runCli(['ls', ref, '1:/', '-R']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l && !l.endsWith('/') && !l.startsWith('/lost+found/')).map((l) => l.slice(1)).sort();
}

test('ls FOLDER#1 and FOLDER#2 list what each generation held; no #GEN is the latest', async () => {
  assert.equal(gens.length, 2);
  const [g1, g2] = gens as [Map<string, string>, Map<string, string>];
  assert.deepEqual(await listed(`${folder}#1`), [...g1.keys()].sort());
  assert.deepEqual(await listed(`${folder}#2`), [...g2.keys()].sort());
  assert.deepEqual(await listed(folder), [...g2.keys()].sort());
  assert.ok(!g1.has('added.bin') && g2.has('added.bin'), 'the generations differ');
  const parts = await runCli(['ls', `${folder}#1`]);
  assert.equal(parts.code, 0, parts.stderr);
  assert.match(parts.stdout, /^1: ext4/m);
});

test('extract from #1 gives the old content, from #2 (by id) the new', async () => {
  const [g1, g2] = gens as [Map<string, string>, Map<string, string>];
  const want = path.join('docs', 'report.bin');
  assert.notEqual(g1.get(want), g2.get(want));
  const ids = generationIds(folder);
  for (const [ref, g, dest] of [[`${folder}#1`, g1, 'out1'], [`${folder}#${ids[1]}`, g2, 'out2']] as const) {
    const out = path.join(t.dir, dest);
    const r = await runCli(['extract', ref, '1:/docs/report.bin', '1:/f0.bin', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(path.join(out, 'report.bin')), g.get(want), ref);
    assert.equal(sha(path.join(out, 'f0.bin')), g.get('f0.bin'), ref);
  }
});

test('a #GEN the folder does not have is refused, naming what it has', async () => {
  const r = await runCli(['ls', `${folder}#3`, '1:/']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /holds generations 1 to 2; there is no #3/);
  const s = await runCli(['extract', `${folder}#20990101T000000Z-abcdef`, '1:/f0.bin', path.join(t.dir, 'none')]);
  assert.notEqual(s.code, 0);
  assert.match(s.stderr, /holds no generation 20990101T000000Z-abcdef/);
  assert.ok(!fs.existsSync(path.join(t.dir, 'none')), 'nothing is written');
});

test('a missing piece fails the extract that needs it, naming the piece', async () => {
  // Where report.bin's first block lies on the drive, found with the filesystem's own tool.
  const blockSize = Number(/Block size:\s+(\d+)/.exec((await runTool('dumpe2fs', ['-h', part], SLOW_TOOL_MS)).stdout)?.[1]);
  const blocks = (await runTool('debugfs', ['-R', 'blocks /docs/report.bin', part], SLOW_TOOL_MS)).stdout.trim().split(/\s+/).map(Number);
  const start = Number(fs.readFileSync(`/sys/class/block/${path.basename(part)}/start`, 'utf8')) * 512;
  const at = start + (blocks[0] as number) * blockSize;
  const index = readGeneration(folder, generationIds(folder)[1] as string);
  const piece = [...index.pieces].find(([o, l]) => o <= at && at < o + l);
  assert.ok(piece, `a piece holds drive byte ${at}`);
  fs.rmSync(piecePath(folder, piece[2]));
  const r = await runCli(['extract', `${folder}#2`, '1:/docs/report.bin', path.join(t.dir, 'out3')]);
  assert.notEqual(r.code, 0);
  assert.ok(`${r.stdout}${r.stderr}`.includes(`piece ${piece[2]} is missing`), r.stderr);
  const ok = await runCli(['extract', `${folder}#1`, '1:/docs/report.bin', path.join(t.dir, 'out4')]);
  assert.equal(ok.code, 0, 'generation 1 does not need that piece');
});
