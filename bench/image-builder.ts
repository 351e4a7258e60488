import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  BOOT_FILES_BYTES, BOOT_SIZE, BOOT_START, IMAGE_DIR, IMAGE_SIZE, IMAGE_VERSION, MiB, RANDOM_BYTES, REAL_FILES_BYTES, ROOT_SIZE, ROOT_START,
} from './bench-config';
import { haveTool, mustBash, mustExec } from './exec';

/** The image formats the benchmark flashes. */
export type BenchFormat = 'raw' | 'gz' | 'xz' | 'zst' | 'zip';
export const ALL_FORMATS: BenchFormat[] = ['raw', 'gz', 'xz', 'zst', 'zip'];

/** What was built, kept as manifest.json beside the files. */
export interface BenchImage {
  version: string;
  /** Uncompressed size: every MB/s figure is this divided by seconds. */
  size: number;
  sha256: string;
  files: Record<BenchFormat, { path: string; bytes: number }>;
  /** How full the ext4 root is, percent, from dumpe2fs. */
  rootUsedPercent: number;
  bootFiles: boolean;
}

const MANIFEST = path.join(IMAGE_DIR, 'manifest.json');
const file = (name: string): string => path.join(IMAGE_DIR, name);

/** Returns the cached image, building it (a few minutes) if this recipe version has none yet. */
export async function ensureBenchImage(log: (s: string) => void): Promise<BenchImage> {
  if (fs.existsSync(MANIFEST)) {
    const m = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as BenchImage;
    if (Object.values(m.files).every((f) => fs.existsSync(f.path) && fs.statSync(f.path).size === f.bytes)) return m;
  }
  fs.rmSync(IMAGE_DIR, { recursive: true, force: true });
  fs.mkdirSync(IMAGE_DIR, { recursive: true });
  const stage = file('stage');
  try {
    log(`Building the ${IMAGE_SIZE / MiB} MiB OS-like image in ${IMAGE_DIR} (once per recipe version)...`);
    const img = file('bench-os.img');
    const rootUsedPercent = await buildRoot(path.join(stage, 'root'), file('root.part'));
    const bootFiles = await buildBoot(path.join(stage, 'boot'), file('boot.part'));
    // A fully written file, not a sparse one: a downloaded image has no holes.
    await mustExec(['dd', 'if=/dev/zero', `of=${img}`, 'bs=4M', `count=${IMAGE_SIZE / (4 * MiB)}`, 'status=none']);
    const table = [
      'label: gpt',
      `start=${BOOT_START / 512}, size=${BOOT_SIZE / 512}, type=uefi, name="boot"`,
      `start=${ROOT_START / 512}, size=${ROOT_SIZE / 512}, type=linux, name="rootfs"`,
      '',
    ].join('\n');
    fs.writeFileSync(file('table.sfdisk'), table);
    await mustExec(['sfdisk', '--quiet', '--no-reread', '--no-tell-kernel', img], { stdinFile: file('table.sfdisk') });
    await mustExec(['dd', `if=${file('boot.part')}`, `of=${img}`, 'bs=1M', `seek=${BOOT_START / MiB}`, 'conv=notrunc', 'status=none']);
    await mustExec(['dd', `if=${file('root.part')}`, `of=${img}`, 'bs=1M', `seek=${ROOT_START / MiB}`, 'conv=notrunc', 'status=none']);
    fs.rmSync(file('boot.part'));
    fs.rmSync(file('root.part'));
    if (fs.statSync(img).size !== IMAGE_SIZE) throw new Error(`${img} came out ${fs.statSync(img).size} bytes, expected ${IMAGE_SIZE}`);
    const sha256 = (await mustExec(['sha256sum', img])).stdout.split(/\s+/)[0] as string;

    log('Compressing: gzip -6 and zip -6 (side by side), zstd -T2 -3, xz -T2 -6 (about 10 minutes)...');
    await Promise.all([
      mustBash('gzip -6 -c "$1" > "$2"', [img, file('bench-os.img.gz')]),
      mustExec(['zip', '-q', '-6', '-j', file('bench-os.zip'), img]),
    ]);
    await mustExec(['zstd', '-q', '-T2', '-3', '-f', img, '-o', file('bench-os.img.zst')]);
    // xz -T2 writes a multi-block stream (blocks of 3x the dictionary), as xz 5.4+ does by default with threads.
    await mustBash('xz -T2 -6 -c "$1" > "$2"', [img, file('bench-os.img.xz')]);

    const entry = (p: string): { path: string; bytes: number } => ({ path: p, bytes: fs.statSync(p).size });
    const manifest: BenchImage = {
      version: IMAGE_VERSION,
      size: IMAGE_SIZE,
      sha256,
      rootUsedPercent,
      bootFiles,
      files: {
        raw: entry(img),
        gz: entry(file('bench-os.img.gz')),
        xz: entry(file('bench-os.img.xz')),
        zst: entry(file('bench-os.img.zst')),
        zip: entry(file('bench-os.zip')),
      },
    };
    fs.writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Fills a staging folder with real system files and random data, then makes an ext4 of it. Returns % used. */
async function buildRoot(dir: string, part: string): Promise<number> {
  const real = sampleFiles(['/usr/lib', '/usr/share'], REAL_FILES_BYTES, 'root');
  copyInto(dir, real);
  writeRandomFiles(path.join(dir, 'var', 'lib', 'media'), RANDOM_BYTES);
  fs.writeFileSync(path.join(dir, 'etc-os-release'), `NAME="Imprint bench OS"\nVERSION="${IMAGE_VERSION}"\n`);
  fs.closeSync(fs.openSync(part, 'w'));
  fs.truncateSync(part, ROOT_SIZE);
  await mustExec(['mkfs.ext4', '-q', '-F', '-L', 'rootfs', '-E', 'root_owner=0:0', '-d', dir, part]);
  const info = (await mustExec(['dumpe2fs', '-h', part])).stdout;
  const num = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return Math.round((100 * (num('Block count') - num('Free blocks'))) / num('Block count'));
}

/** A FAT32 boot partition; files are copied in with mtools when it is installed. */
async function buildBoot(dir: string, part: string): Promise<boolean> {
  await mustExec(['mkfs.vfat', '-F', '32', '-n', 'BOOT', '-C', part, String(BOOT_SIZE / 1024)]);
  if (!haveTool('mcopy')) return false;
  const files = sampleFiles(['/usr/lib/x86_64-linux-gnu', '/usr/bin'], BOOT_FILES_BYTES, 'boot');
  copyInto(dir, files);
  for (const name of fs.readdirSync(dir)) await mustExec(['mcopy', '-s', '-i', part, path.join(dir, name), '::/']);
  return true;
}

/**
 * A spread of regular files from the given trees adding up to about `budget`
 * bytes: each file is picked or not by a hash of its path, so the sample is
 * the same from run to run on the same machine and not just one folder.
 */
function sampleFiles(roots: string[], budget: number, salt: string): string[] {
  const all: { p: string; size: number }[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0 && st.size <= 16 * MiB) all.push({ p, size: st.size });
    }
  };
  for (const r of roots) walk(r);
  const total = all.reduce((s, f) => s + f.size, 0);
  const keep = Math.min(1, (budget * 1.2) / Math.max(1, total));
  const picked: string[] = [];
  let sum = 0;
  for (const f of all) {
    const h = crypto.createHash('md5').update(salt + f.p).digest().readUInt32LE(0) / 2 ** 32;
    if (h >= keep || sum + f.size > budget) continue;
    picked.push(f.p);
    sum += f.size;
  }
  return picked;
}

function copyInto(dir: string, files: string[]): void {
  for (const src of files) {
    const dest = path.join(dir, src);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    try {
      fs.copyFileSync(src, dest);
    } catch {
      // A file that vanished or cannot be read is simply left out.
    }
  }
}

/** Incompressible files of 1 to 16 MiB, from AES-CTR with a fixed key: the same bytes every build. */
function writeRandomFiles(dir: string, bytes: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const cipher = crypto.createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(MiB);
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, (1 + ((i * 7) % 16)) * MiB);
    const fd = fs.openSync(path.join(dir, `blob-${String(i).padStart(3, '0')}.bin`), 'w');
    for (let done = 0; done < size; done += MiB) fs.writeSync(fd, cipher.update(zeros.subarray(0, Math.min(MiB, size - done))));
    fs.closeSync(fd);
    left -= size;
  }
}
