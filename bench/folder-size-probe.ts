import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import type * as ZstdBinding from 'zstd-napi/binding';
import { prepareFolderBackup, runFolderBackup } from '../electron/engine/jobs/folder-backup-job';
import { detailsOf } from '../shared/job-events';
import { readGeneration, generationIds } from '../electron/engine/formats/backup-folder/generation-index';
import { PieceReader } from '../electron/engine/formats/backup-folder/piece-store';
import { CACHE_ROOT, MiB } from './bench-config';
import { changeFiles } from './folder-bench';
import { ensureSmartDrive } from './smart-drive-builder';

/**
 * What the folder bench's second backup adds, piece by piece (docs/backup-folder.md,
 * "What a second backup adds"): the bench's drive and changes, backed up into
 * folders with several piece sizes and zstd levels beside casync, then the new
 * pieces of the default folder taken apart (blocks that really changed, what
 * higher levels would save) and casync's new chunks counted.
 *
 *   node out/bench/folder-size-probe.js [pieceKiB:level ...]      (root; keeps nothing)
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding
const z = require('zstd-napi/binding') as typeof ZstdBinding;
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const du = (dir: string): number => Number(sh('du', ['-sb', dir]).split('\t')[0]);
const mib = (n: number): string => (n / MiB).toFixed(2);

interface Variant {
  pieceSize: number;
  level: number;
  folder: string;
}

async function backup(device: string, v: Variant): Promise<{ seconds: number; newPieces: number; newBytes: number; newStored: number; pieces: number }> {
  const t0 = process.hrtime.bigint();
  const p = await prepareFolderBackup({ device, folder: v.folder, pieceSize: v.pieceSize, level: v.level });
  const r = await runFolderBackup(p, { onEvent: () => undefined });
  const d = detailsOf(r, 'folder-backup');
  if (!r.ok || !d) throw new Error(r.error?.message ?? 'backup failed');
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, newPieces: d.newPieces, newBytes: d.newBytes, newStored: d.newStoredBytes, pieces: d.pieces };
}

function compressAt(data: Buffer, level: number): number {
  const c = new z.CCtx();
  c.setParameter(z.CParameter.compressionLevel, level);
  c.setParameter(z.CParameter.checksumFlag, 1);
  c.setParameter(z.CParameter.contentSizeFlag, 1);
  const out = Buffer.allocUnsafe(z.compressBound(data.length));
  return c.compress2(out, data);
}

/** The default folder's second generation, its new pieces taken apart. */
function analyse(folder: string): string[] {
  const [id1, id2] = generationIds(folder);
  const g1 = readGeneration(folder, id1 as string);
  const g2 = readGeneration(folder, id2 as string);
  const had = new Set([...g1.pieces].map((p) => p[2]));
  const at1 = new Map([...g1.pieces].map((p) => [p[0], p]));
  const reader = new PieceReader(folder);
  const levels = [3, 6, 9, 12, 19];
  const sums = new Map(levels.map((l) => [l, 0]));
  let raw = 0;
  let changedBlocks = 0;
  let blocks = 0;
  let fresh = 0;
  let newNames = 0;
  const seen = new Set<string>();
  let incompressible = 0;
  for (const [off, len, h] of g2.pieces) {
    if (had.has(h) || seen.has(h)) continue;
    seen.add(h);
    newNames++;
    const r = reader.read(h, len);
    if (!r.ok) throw new Error(r.detail);
    const data = Buffer.from(r.data);
    raw += len;
    for (const l of levels) sums.set(l, (sums.get(l) ?? 0) + compressAt(data, l));
    if (compressAt(data, 3) > len * 0.95) incompressible += len;
    const old = at1.get(off);
    const before = old && old[1] === len ? reader.read(old[2], old[1]) : null;
    if (!before || !before.ok) {
      fresh += len;
      continue;
    }
    for (let b = 0; b < len; b += 4096) {
      blocks++;
      if (Buffer.compare(data.subarray(b, b + 4096), before.data.subarray(b, b + 4096)) !== 0) changedBlocks++;
    }
  }
  const idx = (id: string): number => fs.statSync(path.join(folder, 'generations', `${id}.json`)).size;
  return [
    `new pieces ${newNames}, raw ${mib(raw)} MiB (nearly incompressible: ${mib(incompressible)} MiB); at a new offset or length: ${mib(fresh)} MiB`,
    `  pieces that replace one at the same offset: ${blocks} blocks of 4 KiB, ${changedBlocks} changed (${mib(changedBlocks * 4096)} MiB), ${mib((blocks - changedBlocks) * 4096)} MiB unchanged carried`,
    `  compressed: ${levels.map((l) => `L${l} ${mib(sums.get(l) ?? 0)}`).join(', ')} MiB`,
    `index gen1 ${idx(id1 as string)} B, gen2 ${idx(id2 as string)} B; ${g2.pieces.length} pieces; ${g2.metadata.storage?.ranges.length} ranges`,
  ];
}

function casyncFiles(store: string): Map<string, number> {
  const m = new Map<string, number>();
  if (!fs.existsSync(store)) return m;
  for (const d of fs.readdirSync(store)) {
    const p = path.join(store, d);
    if (!fs.statSync(p).isDirectory()) continue;
    m.set(d + '/', 4096);
    for (const f of fs.readdirSync(p)) m.set(`${d}/${f}`, fs.statSync(path.join(p, f)).size);
  }
  return m;
}

async function main(): Promise<void> {
  const specs = process.argv.slice(2).length ? process.argv.slice(2) : ['256:3', '64:3', '128:3'];
  const cached = await ensureSmartDrive(console.log);
  const work = path.join(CACHE_ROOT, `folder-probe-${process.pid}`);
  fs.mkdirSync(work, { recursive: true });
  const variants: Variant[] = specs.map((s, i) => {
    const [k, l] = s.split(':').map(Number);
    return { pieceSize: (k as number) << 10, level: l ?? 3, folder: path.join(work, `f${k}-l${l}-${i}`) };
  });
  let drive = '';
  try {
    const driveFile = path.join(work, 'drive.img');
    sh('dd', [`if=${cached}`, `of=${driveFile}`, 'bs=4M', 'conv=fsync', 'status=none']);
    drive = sh('losetup', ['-f', '--show', '--direct-io=on', driveFile]).trim();
    try {
      sh('partx', ['-a', drive]);
    } catch {
      // The kernel may have added them already (as folder-bench.ts allows).
    }
    const out: string[] = [];
    const g1 = new Map<Variant, Awaited<ReturnType<typeof backup>>>();
    for (const v of variants) g1.set(v, await backup(drive, v));
    const store = path.join(work, 'casync-store');
    let t = Date.now();
    sh('casync', ['make', `--store=${store}`, path.join(work, 'g1.caibx'), drive]);
    const c1s = (Date.now() - t) / 1000;
    const before = casyncFiles(store);
    const du1 = du(store);
    await changeFiles(drive, work);
    for (const v of variants) {
      const a = g1.get(v) as Awaited<ReturnType<typeof backup>>;
      const s0 = du(v.folder);
      const b = await backup(drive, v);
      const s1 = du(v.folder);
      out.push(`${v.pieceSize >> 10} KiB L${v.level}: gen1 ${a.seconds.toFixed(1)} s ${a.pieces} pieces ${mib(a.newStored)} MiB | gen2 ${b.seconds.toFixed(1)} s, du +${mib(s1 - s0)} MiB: ${b.newPieces} new pieces, raw ${mib(b.newBytes)}, stored ${mib(b.newStored)} MiB`);
    }
    t = Date.now();
    sh('casync', ['make', `--store=${store}`, path.join(work, 'g2.caibx'), drive]);
    const c2s = (Date.now() - t) / 1000;
    const after = casyncFiles(store);
    let newChunks = 0;
    let chunkBytes = 0;
    let newDirs = 0;
    for (const [k, n] of after) {
      if (before.has(k)) continue;
      if (k.endsWith('/')) newDirs++;
      else if (k.endsWith('.cacnk')) {
        newChunks++;
        chunkBytes += n;
      }
    }
    out.push(`casync: gen1 ${c1s.toFixed(1)} s ${mib(du1)} MiB; gen2 ${c2s.toFixed(1)} s du +${mib(du(store) - du1)} MiB: ${newChunks} new chunks ${mib(chunkBytes)} MiB, ${newDirs} new dirs; .caibx ${fs.statSync(path.join(work, 'g2.caibx')).size} B`);
    out.push(...analyse(variants[0]?.folder as string));
    console.log(out.join('\n'));
  } finally {
    if (drive) {
      execFileSync('partx', ['-d', drive], { stdio: 'ignore' });
      execFileSync('losetup', ['-d', drive]);
    }
    if (!process.env.PROBE_KEEP) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`kept ${work}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
