import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { detailsOf, type FolderBackupJobDetails } from '../../../shared/job-events';
import { MARKER_FILE } from '../../engine/formats/backup-folder/folder-layout';
import { tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { runCli, type CliResult } from '../testing/run-cli';
import { MiB, ext4Drive } from './backup-folder-testing';

/**
 * `imprint backups passphrase FOLDER` on a real encrypted folder of a real
 * ext4 drive: afterwards the new passphrase opens it and the old one is
 * refused (exit 3); nothing but the marker changed; the next backup still
 * finds every stored piece; a generation stored before the change restores
 * and reads back; a wrong current passphrase, a plain folder and a missing
 * new passphrase are refused without touching anything.
 */

const t = tempDir('bfpass');
const enc = path.join(t.dir, 'enc');
const plain = path.join(t.dir, 'plain');
const file = (name: string, text: string): string => {
  const f = path.join(t.dir, name);
  fs.writeFileSync(f, `${text}\n`);
  return f;
};
const first = file('first.txt', 'the first passphrase');
const second = file('second.txt', 'the second passphrase, changed');
const wrong = file('wrong.txt', 'not the passphrase');
let drive: LoopDevice | null = null;

async function backup(folder: string, extra: string[]): Promise<FolderBackupJobDetails> {
  const run = await runCli(['backup', (drive as LoopDevice).device, '--into', folder, '--yes', '--json', ...extra]);
  assert.equal(run.code, 0, run.stderr);
  const d = run.finished && detailsOf(run.finished, 'folder-backup');
  assert.ok(d);
  return d;
}

/** Every file of the folder but its marker, with size and modification time. */
function allButMarker(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== MARKER_FILE)
    .map((e) => {
      const f = path.join(e.parentPath, e.name);
      const st = fs.statSync(f);
      return `${f} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

const code = (r: CliResult): string | undefined => r.error?.code ?? r.finished?.error?.code;
const list = (pass: string): Promise<CliResult> => runCli(['backups', 'list', enc, '--json', '--passphrase-file', pass]);

before(async () => {
  drive = await ext4Drive(t.dir, 'drive.img', 48 * MiB, 6 * MiB);
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

test('a changed passphrase opens the folder, the old one is refused, and only the marker was rewritten', async () => {
  const g1 = await backup(enc, ['--encrypt', '--passphrase-file', first]);
  const untouched = allButMarker(enc);
  const changed = await runCli(['backups', 'passphrase', enc, '--passphrase-file', first, '--new-passphrase-file', second, '--json']);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal((JSON.parse(changed.stdout) as { type: string }).type, 'backup-folder-passphrase-changed');
  assert.deepEqual(allButMarker(enc), untouched, 'pieces and generations are as they were');
  assert.equal(typeof (JSON.parse(fs.readFileSync(path.join(enc, MARKER_FILE), 'utf8')) as { encryption: { wrappedKey?: unknown } }).encryption.wrappedKey, 'string');

  const old = await list(first);
  assert.equal(old.code, 3, old.stderr);
  assert.equal(code(old), 'E_WRONG_PASSPHRASE');
  const now = await list(second);
  assert.equal(now.code, 0, now.stderr);
  assert.equal((JSON.parse(now.stdout) as { generations: unknown[] }).generations.length, 1);

  // The same keys behind the new passphrase: an unchanged drive adds (almost) nothing.
  const g2 = await backup(enc, ['--passphrase-file', second]);
  assert.equal(g2.pieces, g1.pieces);
  assert.ok(g2.newPieces <= 2, `an unchanged drive adds (almost) nothing: ${g2.newPieces} pieces`);
  const target = path.join(t.dir, 'restored.img');
  const r = await runCli(['restore', `${enc}#1`, target, '--yes', '--json', '--passphrase-file', second]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.finished?.targets[0]?.status, 'verified', 'the generation stored before the change restores and reads back');
  fs.rmSync(target, { force: true });
  const v = await runCli(['backups', 'verify', enc, '--json', '--passphrase-file', second]);
  assert.equal(v.code, 0, v.stdout);
});

test('a wrong current passphrase, a missing new one, a plain folder, or the option on another action: refused, nothing changed', async () => {
  const marker = fs.readFileSync(path.join(enc, MARKER_FILE));
  const bad = await runCli(['backups', 'passphrase', enc, '--passphrase-file', wrong, '--new-passphrase-file', first, '--json']);
  assert.equal(bad.code, 3, bad.stderr);
  assert.equal(code(bad), 'E_WRONG_PASSPHRASE');
  // No terminal to ask (the tests' stdin is not one) and no option: the new passphrase is missing.
  const none = await runCli(['backups', 'passphrase', enc, '--passphrase-file', second, '--json']);
  assert.equal(none.code, 2, none.stderr);
  assert.equal(code(none), 'E_PASSPHRASE_NEEDED');
  assert.match(none.stderr + none.stdout, /--new-passphrase-file/);
  const misplaced = await runCli(['backups', 'list', enc, '--passphrase-file', second, '--new-passphrase-file', first]);
  assert.equal(misplaced.code, 2, misplaced.stderr);
  assert.ok(fs.readFileSync(path.join(enc, MARKER_FILE)).equals(marker), 'the marker is byte for byte as it was');
  assert.equal((await list(second)).code, 0);

  await backup(plain, []);
  const p = await runCli(['backups', 'passphrase', plain, '--passphrase-file', first, '--new-passphrase-file', second, '--json']);
  assert.equal(p.code, 2, p.stderr);
  assert.equal(code(p), 'E_BAD_ARGUMENTS');
  assert.match(p.stderr + p.stdout, /not encrypted/);
  assert.equal(fs.existsSync(path.join(plain, 'lock')), false, 'no lock left behind');
});

test('changed again, and a marker whose wrapped key was altered is refused as a wrong passphrase', async () => {
  const third = file('third.txt', 'the third one');
  const again = await runCli(['backups', 'passphrase', enc, '--passphrase-file', second, '--new-passphrase-file', third]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /now opens with the new passphrase only/);
  assert.equal((await list(second)).code, 3);
  assert.equal((await list(third)).code, 0);
  const markerFile = path.join(enc, MARKER_FILE);
  const saved = fs.readFileSync(markerFile);
  const m = JSON.parse(saved.toString('utf8')) as { encryption: { wrappedKey: string } };
  const raw = Buffer.from(m.encryption.wrappedKey, 'base64');
  raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 0x01;
  m.encryption.wrappedKey = raw.toString('base64');
  fs.writeFileSync(markerFile, JSON.stringify(m));
  try {
    const r = await list(third);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(code(r), 'E_WRONG_PASSPHRASE');
  } finally {
    fs.writeFileSync(markerFile, saved);
  }
  assert.equal((await list(third)).code, 0);
});
