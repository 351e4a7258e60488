import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { detailsOf, type FolderBackupJobDetails } from '../../../shared/job-events';
import { unlockFolder } from '../../engine/formats/backup-folder/folder-keys';
import { piecePath } from '../../engine/formats/backup-folder/folder-layout';
import { generationIds, readGeneration } from '../../engine/formats/backup-folder/generation-index';
import { PieceReader } from '../../engine/formats/backup-folder/piece-store';
import { announcePartitions, sameBytes, tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli, type CliResult } from '../testing/run-cli';
import { MiB, ext4Drive, withMounted } from './backup-folder-testing';

/**
 * Encrypted backup folders through the `imprint` command, on a real ext4
 * drive holding a file with a known marker string: the folder holds none of
 * it (grep finds it in a plain folder of the same drive, not in the
 * encrypted one), its piece names differ from the plain folder's, the
 * passphrase comes from a file or an environment variable, a wrong one exits
 * 3 having written nothing, an encrypted generation restores to the same
 * bytes as the plain one, and a flipped byte in a piece or an index is
 * reported by verify and stops a restore.
 */

const SIZE = 48 * MiB;
const MARKER = 'IMPRINT-ENCRYPTION-TEST-MARKER-5d1c9e';
const PASS = 'a passphrase, with spaces; and ünïcode';
const t = tempDir('bfenc');
const plain = path.join(t.dir, 'plain');
const enc = path.join(t.dir, 'enc');
const passFile = path.join(t.dir, 'pass.txt');
const ENV = { IMPRINT_TEST_PASSPHRASE: PASS, IMPRINT_TEST_WRONG: `${PASS}!` };
const withFile = ['--passphrase-file', passFile];
const withEnv = ['--passphrase-env', 'IMPRINT_TEST_PASSPHRASE'];
let drive: LoopDevice | null = null;
let part = '';

async function backup(folder: string, extra: string[]): Promise<FolderBackupJobDetails> {
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes', '--json', ...extra], { env: ENV });
  assert.equal(run.code, 0, run.stderr);
  const d = run.finished && detailsOf(run.finished, 'folder-backup');
  assert.ok(d);
  return d;
}

/** Every file of a folder with its size and modification time: what "nothing was written" compares. */
function snapshot(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => {
    const f = path.join(e.parentPath, e.name);
    const st = fs.statSync(f);
    return `${f} ${st.size} ${st.mtimeMs}`;
  }).sort();
}

const errorCode = (r: CliResult): string | undefined => r.finished?.error?.code ?? r.error?.code;

before(async () => {
  drive = await ext4Drive(t.dir, 'drive.img', SIZE, 6 * MiB);
  [part] = (await announcePartitions(drive.device, 1)) as [string];
  await withMounted(part, t.dir, (dir) => fs.writeFileSync(path.join(dir, 'marker.txt'), `${MARKER}\n`.repeat(200)));
  fs.writeFileSync(passFile, `${PASS}\n`);
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

test('an encrypted folder holds nothing of the drive in clear, under other piece names than a plain one; passphrase from a file or the environment', async () => {
  const p = await backup(plain, []);
  const e = await backup(enc, ['--encrypt', ...withFile]);
  assert.equal(e.pieces, p.pieces);
  assert.equal(e.newPieces, p.newPieces, 'dedup within the folder works as in a plain one');
  assert.equal(e.sha256, p.sha256);
  const grep = async (dir: string): Promise<number | null> => (await runTool('grep', ['-r', '-a', '-l', '-F', MARKER, dir], { allowFail: true, timeoutMs: SLOW_TOOL_MS })).code;
  assert.equal(await grep(plain), 0, 'the marker is found in the plain folder (the probe works)');
  assert.equal(await grep(enc), 1, 'and in no file of the encrypted folder');
  const names = (dir: string): Set<string> => new Set(fs.readdirSync(path.join(dir, 'pieces'), { recursive: true }).map(String).filter((n) => /[0-9a-f]{64}\./.test(n)).map((n) => path.basename(n).slice(0, 64)));
  const [pn, en] = [names(plain), names(enc)];
  assert.equal(en.size, pn.size);
  assert.ok([...en].every((n) => !pn.has(n)), 'no piece name of the encrypted folder is a plain SHA-256 name');
  // Adding to it: the passphrase from an environment variable named by the option; nothing new is stored.
  const again = await backup(enc, withEnv);
  assert.ok(again.newPieces <= 2, `an unchanged drive adds (almost) nothing: ${again.newPieces} pieces`);
  const list = await runCli(['backups', 'list', enc, '--json', ...withEnv], { env: ENV });
  assert.equal(list.code, 0, list.stderr);
  assert.equal((JSON.parse(list.stdout) as { generations: unknown[] }).generations.length, 2);
});

test('a wrong passphrase exits 3 with a clear message, reading and writing nothing; none at all is refused (exit 2)', async () => {
  const before = snapshot(enc);
  const target = path.join(t.dir, 'untouched.img');
  fs.writeFileSync(target, Buffer.alloc(MiB, 0x77));
  const wrong = ['--passphrase-env', 'IMPRINT_TEST_WRONG'];
  // (prune with a wrong passphrase: jobs/folder-encrypted.test.ts)
  const runs = [
    await runCli(['backup', (drive as LoopDevice).device, '--into', enc, '--yes', '--json', ...wrong], { env: ENV }),
    await runCli(['restore', `${enc}#1`, target, '--yes', '--json', ...wrong], { env: ENV }),
    await runCli(['ls', `${enc}#1`, ...wrong], { env: ENV }),
  ];
  for (const r of runs) {
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /Wrong passphrase for the encrypted backup folder/);
  }
  assert.equal(errorCode(runs[0] as CliResult), 'E_WRONG_PASSPHRASE');
  assert.deepEqual(snapshot(enc), before, 'the folder is as it was (no lock, no temporary file, no generation)');
  assert.ok(fs.readFileSync(target).equals(Buffer.alloc(MiB, 0x77)), 'the restore target is untouched');
  const none = await runCli(['backups', 'list', enc, '--json']);
  assert.equal(none.code, 2);
  assert.equal(errorCode(none), 'E_PASSPHRASE_NEEDED');
  const toPlain = await runCli(['backup', (drive as LoopDevice).device, '--into', plain, '--encrypt', '--yes', '--json', ...withFile]);
  assert.equal(toPlain.code, 2, 'a plain folder does not become encrypted');
  assert.match(toPlain.stdout + toPlain.stderr, /not encrypted/);
});

test('an encrypted generation restores to the same bytes as the plain one, and ls/extract read it', async () => {
  const [a, b] = [path.join(t.dir, 'plain.img'), path.join(t.dir, 'enc.img')];
  const rp = await runCli(['restore', `${plain}#1`, a, '--yes', '--json']);
  assert.equal(rp.code, 0, rp.stderr);
  const re = await runCli(['restore', `${enc}#1`, b, '--yes', '--json', ...withFile]);
  assert.equal(re.code, 0, re.stderr);
  assert.equal(re.finished?.targets[0]?.status, 'verified');
  assert.ok(await sameBytes(a, b), 'the two restored drives are byte for byte equal');
  fs.rmSync(a);
  fs.rmSync(b);
  // An export is an ordinary (plain) smart backup, and says so.
  const exported = path.join(t.dir, 'g1.img.zst');
  const ex1 = await runCli(['backups', 'export', `${enc}#1`, exported, ...withFile]);
  assert.equal(ex1.code, 0, ex1.stderr);
  assert.match(ex1.stderr, /not encrypted/);
  await runTool('zstd', ['-tq', exported], SLOW_TOOL_MS);
  fs.rmSync(exported);
  fs.rmSync(`${exported}.json`, { force: true });
  const ls = await runCli(['ls', enc, '1:/', ...withEnv], { env: ENV });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^marker\.txt$/m);
  const dest = path.join(t.dir, 'out');
  const ex = await runCli(['extract', `${enc}#2`, '1:/marker.txt', dest, ...withFile]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(fs.readFileSync(path.join(dest, 'marker.txt'), 'utf8'), `${MARKER}\n`.repeat(200));
});

test('a flipped byte in a piece fails authentication: verify names the generations and ranges, restore fails', async () => {
  const keys = unlockFolder(enc, PASS);
  const [id1, id2] = generationIds(enc) as [string, string];
  const g1 = readGeneration(enc, id1, keys);
  const reader = new PieceReader(enc, keys);
  // The piece that holds the marker file: both generations need it.
  const piece = [...g1.pieces].find(([, length, hash]) => {
    const got = reader.read(hash, length);
    return got.ok && got.data.includes(MARKER);
  });
  assert.ok(piece, 'a piece holds the marker file');
  const file = piecePath(enc, piece[2], true);
  const saved = fs.readFileSync(file);
  const bytes = Buffer.from(saved);
  bytes.writeUInt8((bytes.readUInt8(bytes.length >> 1) ^ 0x01) & 0xff, bytes.length >> 1);
  fs.writeFileSync(file, bytes);
  try {
    const v = await runCli(['backups', 'verify', enc, '--json', ...withFile]);
    assert.equal(v.code, 1);
    const report = JSON.parse(v.stdout) as { unrestorable: { id: string }[]; problems: { hash: string; detail: string; affects: { id: string; ranges: [number, number][] }[] }[] };
    assert.deepEqual(report.problems.map((p) => p.hash), [piece[2]]);
    assert.match(report.problems[0]?.detail ?? '', /fails authentication/);
    assert.deepEqual(report.problems[0]?.affects.map((x) => x.id), [id1, id2]);
    assert.deepEqual(report.problems[0]?.affects[0]?.ranges, [...g1.pieces].filter((p) => p[2] === piece[2]).map((p) => [p[0], p[1]]));
    assert.deepEqual(report.unrestorable.map((g) => g.id), [id1, id2]);
    const human = await runCli(['backups', 'verify', enc, ...withFile]);
    assert.match(human.stdout, new RegExp(`fails authentication.*affects generation 1 \\(${id1}\\) drive bytes ${piece[0]}-${piece[0] + piece[1]}`));
    const target = path.join(t.dir, 'damaged.img');
    const r = await runCli(['restore', `${enc}#1`, target, '--yes', '--json', ...withFile]);
    assert.equal(r.code, 1);
    assert.equal(errorCode(r), 'E_CORRUPT_SOURCE');
    assert.match(r.finished?.error?.message ?? '', /fails authentication/);
    assert.notEqual(r.finished?.targets[0]?.status, 'verified');
    fs.rmSync(target, { force: true });
  } finally {
    fs.writeFileSync(file, saved);
  }
});

test('a flipped byte in an index: verify and list name that generation as damaged, its restore fails, the other is intact', async () => {
  const [id1, id2] = generationIds(enc) as [string, string];
  const file = path.join(enc, 'generations', `${id2}.json`);
  const sealed = JSON.parse(fs.readFileSync(file, 'utf8')) as { sealed: string };
  const raw = Buffer.from(sealed.sealed, 'base64');
  raw.writeUInt8(raw.readUInt8(raw.length >> 1) ^ 0x80, raw.length >> 1);
  fs.writeFileSync(file, JSON.stringify({ ...sealed, sealed: raw.toString('base64') }));
  const v = await runCli(['backups', 'verify', enc, '--json', ...withEnv], { env: ENV });
  assert.equal(v.code, 1);
  const report = JSON.parse(v.stdout) as { damagedIndexes: { id: string; error: string }[]; problems: unknown[]; unrestorable: { id: string }[] };
  assert.deepEqual(report.damagedIndexes.map((d) => d.id), [id2]);
  assert.match(report.damagedIndexes[0]?.error ?? '', /fails authentication/);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.unrestorable.map((g) => g.id), [id2]);
  const list = await runCli(['backups', 'list', enc, ...withEnv], { env: ENV });
  assert.match(list.stdout, new RegExp(`2  ${id2} +DAMAGED: .*fails authentication`));
  const r = await runCli(['restore', `${enc}#2`, path.join(t.dir, 'never.img'), '--yes', '--json', ...withEnv], { env: ENV });
  assert.equal(r.code, 1);
  assert.equal(errorCode(r), 'E_CORRUPT_SOURCE');
  assert.ok(!fs.existsSync(path.join(t.dir, 'never.img')), 'nothing was written');
  assert.ok(generationIds(enc).includes(id1));
});
