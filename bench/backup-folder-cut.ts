import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { prepareFolderBackup, runFolderBackup } from '../electron/engine/jobs/folder-backup-job';
import { detailsOf } from '../shared/job-events';
import { resolveGeneration } from '../electron/engine/formats/backup-folder/generation-index';
import { generationContent } from '../electron/engine/formats/backup-folder/generation-content';
import { noise } from '../electron/engine/testing/test-drives';

/**
 * How to cut a drive's used data into pieces (docs/backup-folder.md): backs
 * up a real ext4 drive into folders with fixed pieces of 64 KiB to 4 MiB, makes
 * ordinary file changes, backs up again, and compares the new data each
 * folder had to store with what content-defined chunking (casync, on the
 * same used data: each generation's zero-filled image) adds to its store.
 *
 *   node out/bench/backup-folder-cut.js [WORKDIR]      (root: loop devices, mount)
 */

const MiB = 1 << 20;
const SIZE = 256 * MiB;
const SIZES = [64 << 10, 256 << 10, MiB, 4 * MiB];
const sh = (cmd: string, args: string[], input?: string): string => execFileSync(cmd, args, { encoding: 'utf8', input });
const duBytes = (dir: string): number => Number(sh('du', ['-sb', dir]).split('\t')[0]);

function fill(mnt: string): void {
  fs.mkdirSync(path.join(mnt, 'photos'));
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(mnt, 'photos', `p${i}.jpg`), noise(3 * MiB + i * 4096, 100 + i));
  fs.writeFileSync(path.join(mnt, 'large.vdi'), noise(40 * MiB, 7));
  fs.mkdirSync(path.join(mnt, 'src'));
  for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(mnt, 'src', `f${i}.c`), `/* file ${i} */\n`.repeat(200 + i));
  fs.writeFileSync(path.join(mnt, 'app.log'), 'boot ok\n'.repeat(100000));
  fs.writeFileSync(path.join(mnt, 'old.bin'), noise(5 * MiB, 9));
}

function change(mnt: string): void {
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(mnt, `new${i}.bin`), noise(2 * MiB, 200 + i));
  const fd = fs.openSync(path.join(mnt, 'large.vdi'), 'r+');
  fs.writeSync(fd, noise(MiB, 8), 0, MiB, 20 * MiB + 12345);
  fs.closeSync(fd);
  fs.rmSync(path.join(mnt, 'old.bin'));
  fs.renameSync(path.join(mnt, 'photos'), path.join(mnt, 'pictures'));
  fs.appendFileSync(path.join(mnt, 'app.log'), 'login\n'.repeat(20000));
  for (let i = 0; i < 400; i += 2) fs.appendFileSync(path.join(mnt, 'src', `f${i}.c`), `// edited\n`);
}

async function backup(device: string, folder: string, pieceSize: number): Promise<{ newBytes: number; newStored: number; pieces: number; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const p = await prepareFolderBackup({ device, folder, pieceSize });
  const r = await runFolderBackup(p, { onEvent: () => undefined });
  const d = detailsOf(r, 'folder-backup');
  if (!r.ok || !d) throw new Error(r.error?.message ?? 'backup failed');
  return { newBytes: d.newBytes, newStored: d.newStoredBytes, pieces: d.pieces, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** The generation as a smart backup decodes it: used data in place, zeros elsewhere (sparse file). */
async function imageOf(folder: string, out: string): Promise<void> {
  const index = resolveGeneration(folder, undefined);
  const fd = fs.openSync(out, 'w');
  let at = 0;
  for await (const b of generationContent(folder, index)) {
    if (b.some((x) => x !== 0)) fs.writeSync(fd, b, 0, b.length, at);
    at += b.length;
  }
  fs.ftruncateSync(fd, at);
  fs.closeSync(fd);
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(process.argv[2] ?? '/tmp', 'imprint-cut-'));
  const file = path.join(work, 'drive.img');
  fs.writeFileSync(file, '');
  sh('fallocate', ['-l', String(SIZE), file]);
  const dev = sh('losetup', ['-f', '--show', '--direct-io=on', file]).trim();
  const mnt = path.join(work, 'mnt');
  fs.mkdirSync(mnt);
  try {
    sh('sfdisk', ['-q', dev], 'label: dos\n,,83\n');
    sh('partx', ['-a', dev]);
    sh('mkfs.ext4', ['-q', '-F', `${dev}p1`]);
    const rows: string[] = [];
    const results = new Map<number, { g1: Awaited<ReturnType<typeof backup>>; g2?: Awaited<ReturnType<typeof backup>>; g3?: Awaited<ReturnType<typeof backup>> }>();
    sh('mount', [`${dev}p1`, mnt]);
    fill(mnt);
    sh('umount', [mnt]);
    for (const s of SIZES) results.set(s, { g1: await backup(dev, path.join(work, `f${s}`), s) });
    const store = path.join(work, 'casync-store');
    await imageOf(path.join(work, `f${MiB}`), path.join(work, 'g1.img'));
    sh('casync', ['make', `--store=${store}`, path.join(work, 'g1.caibx'), path.join(work, 'g1.img')]);
    const casync1 = duBytes(store);
    sh('mount', [`${dev}p1`, mnt]);
    change(mnt);
    sh('umount', [mnt]);
    for (const s of SIZES) (results.get(s) as { g2?: unknown }).g2 = await backup(dev, path.join(work, `f${s}`), s);
    for (const s of SIZES) (results.get(s) as { g3?: unknown }).g3 = await backup(dev, path.join(work, `f${s}`), s);
    await imageOf(path.join(work, `f${MiB}`), path.join(work, 'g2.img'));
    const t0 = process.hrtime.bigint();
    sh('casync', ['make', `--store=${store}`, path.join(work, 'g2.caibx'), path.join(work, 'g2.img')]);
    const casyncSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const casync2 = duBytes(store) - casync1;
    const f = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
    rows.push('| cut | first backup stored | pieces | first backup s | after the changes: new data | stored (compressed) | second backup s | unchanged again |');
    rows.push('|---|---|---|---|---|---|---|---|');
    for (const s of SIZES) {
      const r = results.get(s) as { g1: Awaited<ReturnType<typeof backup>>; g2: Awaited<ReturnType<typeof backup>>; g3: Awaited<ReturnType<typeof backup>> };
      rows.push(`| fixed ${s >= MiB ? `${s / MiB} MiB` : `${s >> 10} KiB`} | ${f(r.g1.newStored)} | ${r.g1.pieces} | ${r.g1.seconds.toFixed(2)} | ${f(r.g2.newBytes)} | ${f(r.g2.newStored)} | ${r.g2.seconds.toFixed(2)} | ${f(r.g3.newStored)} |`);
    }
    rows.push(`| casync CDC (64 KiB avg) on the same used data | ${f(casync1)} | - | - | - | ${f(casync2)} | ${casyncSeconds.toFixed(2)} | - |`);
    console.log(rows.join('\n'));
  } finally {
    for (const [cmd, args] of [['umount', [mnt]], ['partx', ['-d', dev]], ['losetup', ['-d', dev]]] as [string, string[]][]) {
      try {
        execFileSync(cmd, args, { stdio: 'ignore' });
      } catch {
        // Not mounted, or already detached.
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
