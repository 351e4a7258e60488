import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isEncryptedFolder, unlockFolder } from '../../engine/formats/backup-folder/folder-keys';
import { GENERATIONS_DIR, LOCK_FILE, PIECES_DIR, TMP_DIR } from '../../engine/formats/backup-folder/folder-layout';
import { readGeneration } from '../../engine/formats/backup-folder/generation-index';
import { readHolder } from '../../engine/formats/backup-folder/folder-lock';
import { exportGeneration } from '../../engine/jobs/folder-export';
import { pruneFolder } from '../../engine/jobs/folder-prune';
import { verifyFolder } from '../../engine/jobs/folder-verify';
import { tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { describe, runCli, startCli } from '../testing/run-cli';
import { MiB, ext4Drive, randomFile, withMounted } from './backup-folder-testing';

/**
 * Issue 15's crash safety of prune: `imprint backups prune` killed with
 * SIGKILL at points spread over its run, each time on a fresh copy of a
 * folder holding five generations of a real ext4 drive (and, twice, an
 * encrypted folder of three). After each kill: every generation's index that
 * is still there is byte for byte what the backup wrote, the ones prune was
 * told to keep are all there, `backups verify` reads every piece they name
 * and passes, and one surviving generation (a different one each run) is
 * exported and decompresses to exactly the image it gave before any prune.
 * Then a prune run to the end leaves exactly the kept generations, exactly
 * the pieces they name (no orphan), an empty tmp/ and no lock.
 *
 * Kills at named points come from IMPRINT_TEST_KILL_AT (cli/test-kill-point.ts:
 * the process SIGKILLs itself there; prune of a folder this small is over in
 * milliseconds, so kills timed from outside land inside it only by chance);
 * three more runs are killed from outside after a spread of delays.
 */

const PASS = 'prune kill test passphrase';
const ENV = { IMPRINT_TEST_PASSPHRASE: PASS };
const WITH_PASS = ['--passphrase-env', 'IMPRINT_TEST_PASSPHRASE'];
const KEEP = 2;
const t = tempDir('bfprunekill');
const plain = path.join(t.dir, 'plain');
const enc = path.join(t.dir, 'enc');
let drive: LoopDevice | null = null;
/** Generation id -> SHA-256 of the image its export decompresses to, before any prune. */
const images = new Map<string, string>();
/** Generation id -> its index file's bytes as the backup wrote them. */
const indexes = new Map<string, Buffer>();

const idsIn = (folder: string): string[] => fs.readdirSync(path.join(folder, GENERATIONS_DIR)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
const passArgs = (folder: string): string[] => (isEncryptedFolder(folder) ? WITH_PASS : []);
const passOf = (folder: string): string | null => (isEncryptedFolder(folder) ? PASS : null);

/** Exports FOLDER#ID (the engine's export, in this process) and hashes the image the standalone .zst decompresses to (with the system's zstd). */
async function imageOf(folder: string, id: string): Promise<string> {
  const out = path.join(t.dir, `export-${crypto.randomBytes(4).toString('hex')}.img.zst`);
  const r = await exportGeneration(`${folder}#${id}`, out, { passphrase: passOf(folder) });
  const hash = crypto.createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const z = spawn('zstd', ['-d', '-c', '-q', out], { stdio: ['ignore', 'pipe', 'inherit'] });
    z.stdout.on('data', (b: Buffer) => hash.update(b));
    z.on('error', reject);
    z.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`zstd -d exited ${code}`))));
  });
  fs.rmSync(out, { force: true });
  fs.rmSync(r.sidecar, { force: true });
  return hash.digest('hex');
}

/** Piece file names (without suffix) under pieces/, and the pieces the folder's indexes name. */
function piecesOnDisk(folder: string): Set<string> {
  const names = new Set<string>();
  const dir = path.join(folder, PIECES_DIR);
  for (const fan of fs.readdirSync(dir)) for (const n of fs.readdirSync(path.join(dir, fan))) names.add(n.replace(/\.(zst|enc)$/, ''));
  return names;
}
function piecesNamed(folder: string): Set<string> {
  const keys = unlockFolder(folder, passOf(folder));
  return new Set(idsIn(folder).flatMap((id) => [...readGeneration(folder, id, keys).pieces].map((p) => p[2])));
}

before(async () => {
  drive = await ext4Drive(t.dir, 'drive.img', 32 * MiB, 6 * MiB);
  const dev = drive.device;
  for (let i = 0; i < 5; i++) {
    if (i > 0) {
      // A new file, 256 KiB overwritten in the middle of f0.bin, and (once) a file deleted: each generation has pieces of its own.
      await withMounted(`${dev}p1`, t.dir, (dir) => {
        randomFile(path.join(dir, `g${i}.bin`), MiB);
        const fd = fs.openSync(path.join(dir, 'f0.bin'), 'r+');
        fs.writeSync(fd, crypto.randomBytes(256 << 10), 0, 256 << 10, i * 512 * 1024);
        fs.closeSync(fd);
        if (i === 3) fs.rmSync(path.join(dir, 'f1.bin'));
      });
    }
    const run = await runCli(['backup', dev, '--into', plain, '--yes', '--json'], { env: ENV });
    assert.equal(run.code, 0, describe(run));
    if (i % 2 === 0) {
      const e = await runCli(['backup', dev, '--into', enc, '--yes', '--json', ...(i === 0 ? ['--encrypt'] : []), ...WITH_PASS], { env: ENV });
      assert.equal(e.code, 0, describe(e));
    }
  }
  for (const folder of [plain, enc]) {
    for (const id of idsIn(folder)) {
      indexes.set(id, fs.readFileSync(path.join(folder, GENERATIONS_DIR, `${id}.json`)));
      images.set(id, await imageOf(folder, id));
    }
  }
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

interface Run {
  folder: string;
  keep: number;
  /** A named point (IMPRINT_TEST_KILL_AT) or a delay in ms before SIGKILL from outside. */
  kill: string | number;
}

async function killedRun(n: number, r: Run): Promise<{ killedInside: boolean }> {
  const copy = path.join(t.dir, `run-${n}`);
  fs.cpSync(r.folder, copy, { recursive: true });
  const all = idsIn(copy);
  const kept = all.slice(-r.keep);
  const env = { ...ENV, ...(typeof r.kill === 'string' ? { IMPRINT_TEST_KILL_AT: r.kill } : {}) };
  const { child, done } = startCli(['backups', 'prune', copy, '--keep-last', String(r.keep), '--json', ...passArgs(r.folder)], env);
  let lockAtKill = false;
  if (typeof r.kill === 'number') {
    await new Promise((res) => setTimeout(res, r.kill as number));
    lockAtKill = fs.existsSync(path.join(copy, LOCK_FILE));
    child.kill('SIGKILL');
  }
  const run = await done;
  const what = `run ${n} (${String(r.kill)})`;
  if (typeof r.kill === 'string') assert.equal(run.signal, 'SIGKILL', `${what} died at its kill point: ${describe(run)}`);
  else assert.ok(run.signal === 'SIGKILL' || run.code === 0, `${what}: ${describe(run)}`);

  // What the kill left: whole generations only, each index as written, the kept ones all there.
  const left = idsIn(copy);
  for (const id of left) assert.ok(all.includes(id), `${what}: no new generation`);
  for (const id of kept) assert.ok(left.includes(id), `${what}: kept generation ${id} is still there`);
  for (const id of left) assert.deepEqual(fs.readFileSync(path.join(copy, GENERATIONS_DIR, `${id}.json`)), indexes.get(id), `${what}: index ${id} unchanged`);
  const lock = readHolder(path.join(copy, LOCK_FILE));
  if (lock) assert.notEqual(lock.pid, process.pid);
  // backups verify (in this process: the engine's verifyFolder) reads and checks every piece each remaining index names.
  const verify = await verifyFolder(copy, { passphrase: passOf(copy) });
  assert.equal(verify.ok, true, `${what}: verify after the kill: ${JSON.stringify(verify.problems.slice(0, 3))}`);
  const named = piecesNamed(copy);
  const disk = piecesOnDisk(copy);
  for (const h of named) assert.ok(disk.has(h), `${what}: piece ${h.slice(0, 8)} a remaining generation names is there`);
  // One remaining generation, a different one each run, restores to the image it held before any prune.
  const check = left[n % left.length] as string;
  assert.equal(await imageOf(copy, check), images.get(check), `${what}: generation ${check} exports the same image`);

  // A prune run to the end (in this process) takes over the dead one's lock and finishes its work.
  pruneFolder(copy, { keepLast: r.keep }, passOf(copy));
  assert.deepEqual(idsIn(copy), kept, `${what}: exactly the kept generations remain`);
  assert.deepEqual([...piecesOnDisk(copy)].sort(), [...piecesNamed(copy)].sort(), `${what}: no orphan piece, none missing`);
  assert.deepEqual(fs.readdirSync(path.join(copy, TMP_DIR)), []);
  assert.equal(fs.existsSync(path.join(copy, LOCK_FILE)), false);
  fs.rmSync(copy, { recursive: true, force: true });
  return { killedInside: lockAtKill || typeof r.kill === 'string' };
}

test('SIGKILL at points spread over a prune: kept generations whole and restorable, the next prune finishes the job', async () => {
  // How many pieces the plain folder's prune deletes: kills land at the first, the middle and the last of them.
  const sample = path.join(t.dir, 'sample');
  fs.cpSync(plain, sample, { recursive: true });
  const t0 = Date.now();
  const full = await runCli(['backups', 'prune', sample, '--keep-last', String(KEEP), '--json'], { env: ENV });
  const duration = Date.now() - t0;
  assert.equal(full.code, 0, describe(full));
  const toDelete = (JSON.parse(full.stdout.trim().split('\n').pop() as string) as { piecesRemoved: number }).piecesRemoved;
  assert.ok(toDelete >= 4, `the prune deletes pieces (${toDelete})`);
  fs.rmSync(sample, { recursive: true, force: true });

  const runs: Run[] = [
    { folder: plain, keep: KEEP, kill: 'locked:1' },
    { folder: plain, keep: KEEP, kill: 'planned:1' },
    { folder: plain, keep: KEEP, kill: 'index-removed:1' },
    { folder: plain, keep: KEEP, kill: 'index-removed:2' },
    { folder: plain, keep: KEEP, kill: 'indexes-synced:1' },
    { folder: plain, keep: KEEP, kill: 'piece-removed:1' },
    { folder: plain, keep: KEEP, kill: `piece-removed:${Math.ceil(toDelete / 2)}` },
    { folder: plain, keep: KEEP, kill: `piece-removed:${toDelete - 1}` },
    { folder: plain, keep: KEEP, kill: 'pieces-removed:1' },
    { folder: enc, keep: 1, kill: 'index-removed:1' },
    { folder: enc, keep: 1, kill: 'piece-removed:2' },
    // From outside, at a spread over an uninterrupted run (mostly Node's start-up: these test that a kill anywhere is harmless).
    ...[0.5, 0.8, 0.95].map((f): Run => ({ folder: plain, keep: KEEP, kill: Math.round(duration * f) })),
  ];
  let inside = 0;
  for (const [n, r] of runs.entries()) if ((await killedRun(n, r)).killedInside) inside++;
  assert.ok(inside >= 11, `runs killed inside prune's work: ${inside}`);
});
