import { runToolSync } from './run-tool';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Test images made by the real tools, built on first use. The base image
 * looks like a small OS image: boot code, a partition table written by
 * `sfdisk`, a FAT boot partition, an ext4 root filled with mixed files by
 * `mkfs.ext4 -d`, and zeros after it. Its compressed forms come from gzip,
 * xz, zstd, bzip2 and zip.
 *
 * They are shared by the test processes (one per test file, 14 of them use
 * these images) through a cache beside the compiled tests,
 * out/.fixture-cache/<version of this file>/: each image is built once, under
 * a temporary name renamed into place, and then only read (tests that change
 * an image change a copy). Built by every process, the compressed forms
 * alone took about 9 s each time (xz -3 of the 32 MiB image 4.2 s, bzip2 1.8 s).
 */

export const MiB = 1 << 20;
/** Size of the base image: big enough for several 4 MiB chunks, small enough for quick tests. */
export const OS_IMAGE_SIZE = 32 * MiB;

export type PartitionLabel = 'dos' | 'gpt';

/**
 * Forms of the image. `xz-blocks` is a multi-block .xz (what `xz -T` writes);
 * `zst-frames` is two zstd frames with a skippable frame between them.
 */
export type ImageForm = 'raw' | 'gz' | 'xz' | 'xz-blocks' | 'zst' | 'zst-frames' | 'bz2' | 'zip';
export const IMAGE_FORMS: readonly ImageForm[] = ['raw', 'gz', 'xz', 'xz-blocks', 'zst', 'zst-frames', 'bz2', 'zip'];

let workDir: string | null = null;

/** The shared cache of this version of the fixtures: a change to this file builds them afresh. */
const CACHE_ROOT = path.resolve(__dirname, '..', '..', '..', '.fixture-cache');
const CACHE = path.join(CACHE_ROOT, crypto.createHash('sha256').update(fs.readFileSync(__filename)).digest('hex').slice(0, 16));

/**
 * The fixture `name`, from the shared cache, or made by `make` (given the
 * path to write) and put there. Caches of other versions are removed when a
 * new one is started: they belong to compiled code that is gone.
 */
function shared(name: string, make: (out: string) => void): string {
  const cached = built.get(name);
  if (cached) return cached;
  const file = path.join(CACHE, name);
  if (!fs.existsSync(file)) {
    if (!fs.existsSync(CACHE)) {
      fs.mkdirSync(CACHE_ROOT, { recursive: true });
      for (const old of fs.readdirSync(CACHE_ROOT)) if (path.join(CACHE_ROOT, old) !== CACHE) fs.rmSync(path.join(CACHE_ROOT, old), { recursive: true, force: true });
      fs.mkdirSync(CACHE, { recursive: true });
    }
    // The extension stays last: zip names its archive after it.
    const partial = path.join(CACHE, `partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}-${name}`);
    try {
      make(partial);
      fs.renameSync(partial, file);
    } finally {
      fs.rmSync(partial, { force: true });
    }
  }
  built.set(name, file);
  return file;
}

/** The per-process temp folder fixtures are built in. */
export function fixtureDir(): string {
  if (workDir === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-fixtures-'));
    workDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** Deterministic pseudo-random bytes (AES-CTR over zeros): incompressible, reproducible. */
export function pseudoRandom(length: number, seed: string): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

const WORDS = 'boot kernel initrd module firmware partition sector block device mount root user config service network driver'.split(' ');

/** Text that compresses like real configuration and documentation files. */
function text(lines: number, seed: number): string {
  const out: string[] = [];
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < lines; i++) {
    const n = 4 + (i % 9);
    const words: string[] = [];
    for (let w = 0; w < n; w++) {
      x = (x * 1103515245 + 12345) >>> 0;
      words.push(WORDS[x % WORDS.length] as string);
    }
    out.push(`${i}: ${words.join(' ')}`);
  }
  return out.join('\n') + '\n';
}

function fillRootTree(dir: string): void {
  const mk = (rel: string, data: string | Buffer): void => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  };
  for (let i = 0; i < 120; i++) mk(`usr/share/doc/pkg${i}/README`, text(40 + (i % 50), i));
  for (let i = 0; i < 40; i++) mk(`etc/conf.d/service${i}.conf`, text(8, 1000 + i));
  mk('usr/lib/firmware/blob-a.bin', pseudoRandom(1536 * 1024, 'blob-a'));
  mk('usr/lib/firmware/blob-b.bin', pseudoRandom(1024 * 1024, 'blob-b'));
  mk('boot/vmlinuz', pseudoRandom(2 * MiB, 'kernel'));
  // Half-compressible: random bytes from a small alphabet, like machine code.
  mk('usr/lib/libexample.so', Buffer.from(pseudoRandom(MiB, 'lib').map((b) => b & 0x0f)));
  mk('var/lib/swapfile-reserved', Buffer.alloc(MiB));
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.symlinkSync('../usr/lib/libexample.so', path.join(dir, 'etc/libexample.so'));
}

function run(cmd: string, args: string[], opts: { input?: string | Buffer; cwd?: string } = {}): Buffer {
  return runToolSync(cmd, args, opts).stdout;
}

function writeAt(file: string, data: Buffer, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Partition layout in 512-byte sectors: FAT boot at 1 MiB (4 MiB), ext4 root at 5 MiB (20 MiB). */
const BOOT = { start: 2048, sectors: 8192 };
const ROOT = { start: 10240, sectors: 40960 };

const built = new Map<string, string>();

/** Path of the base OS-like image (built once, shared: see above). */
export function osImage(label: PartitionLabel = 'dos'): string {
  return shared(`os-${label}.img`, (img) => buildOsImage(img, label));
}

function buildOsImage(img: string, label: PartitionLabel): void {
  const dir = fixtureDir();
  fs.writeFileSync(img, '');
  fs.truncateSync(img, OS_IMAGE_SIZE);
  // Boot code before the partition table and a "second stage" in the gap, as bootloaders do.
  writeAt(img, pseudoRandom(440, `mbr-${label}`), 0);
  writeAt(img, pseudoRandom(64 * 1024, `stage2-${label}`), 32 * 1024 + (label === 'gpt' ? 64 * 1024 : 0));
  const types = label === 'gpt' ? ['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '0FC63DAF-8483-4772-8E79-3D69D8477DE4'] : ['c', '83'];
  const script = [
    `label: ${label}`,
    `start=${BOOT.start}, size=${BOOT.sectors}, type=${types[0]}${label === 'dos' ? ', bootable' : ''}`,
    `start=${ROOT.start}, size=${ROOT.sectors}, type=${types[1]}`,
    '',
  ].join('\n');
  run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', img], { input: script });

  const boot = path.join(dir, `boot-${label}.part`);
  run('mkfs.vfat', ['-C', '-n', 'BOOT', boot, String((BOOT.sectors * 512) / 1024)]);
  writeAt(img, fs.readFileSync(boot), BOOT.start * 512);
  fs.rmSync(boot);

  const tree = fs.mkdtempSync(path.join(dir, 'rootfs-'));
  fillRootTree(tree);
  const root = path.join(dir, `root-${label}.part`);
  fs.writeFileSync(root, '');
  fs.truncateSync(root, ROOT.sectors * 512);
  run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', 'rootfs', '-d', tree, root]);
  writeAt(img, fs.readFileSync(root), ROOT.start * 512);
  fs.rmSync(root);
  fs.rmSync(tree, { recursive: true, force: true });
}

/** The image in the given form, made with the real tool (built once, shared). */
export function imageIn(form: ImageForm, label: PartitionLabel = 'dos'): string {
  const raw = osImage(label);
  if (form === 'raw') return raw;
  return shared(`os-${label}.${form}`, (out) => compressTo(form, raw, out));
}

/** Size of the small image: the OS image's first 12 MiB (boot code, partition table, boot partition, part of root). */
export const SMALL_IMAGE_SIZE = 12 * MiB;

/** The small image in the given form, for tests where a slow decoder (bzip2) would cost too much on the full one. */
export function smallImageIn(form: ImageForm): string {
  const raw = shared('small.img', (out) => fs.writeFileSync(out, fs.readFileSync(osImage()).subarray(0, SMALL_IMAGE_SIZE)));
  return form === 'raw' ? raw : shared(`small.${form}`, (out) => compressTo(form, raw, out));
}

/** Writes `raw` in `form` to `out` with the real tool; returns `out`. */
export function compressTo(form: ImageForm, raw: string, out: string): string {
  switch (form) {
    case 'raw':
      fs.copyFileSync(raw, out);
      break;
    case 'gz':
      fs.writeFileSync(out, run('gzip', ['-6', '-n', '-c', raw]));
      break;
    case 'xz':
      fs.writeFileSync(out, run('xz', ['-3', '-T1', '-c', raw]));
      break;
    case 'xz-blocks':
      fs.writeFileSync(out, run('xz', ['-3', '-T2', '--block-size=4MiB', '-c', raw]));
      break;
    case 'zst':
      fs.writeFileSync(out, run('zstd', ['-q', '-3', '-c', raw]));
      break;
    case 'zst-frames': {
      const data = fs.readFileSync(raw);
      const half = Math.floor(data.length * 0.4) + 4321;
      const skippable = Buffer.alloc(8 + 24);
      skippable.writeUInt32LE(0x184d2a5e, 0);
      skippable.writeUInt32LE(24, 4);
      skippable.write('imprint test metadata...', 8);
      // Each half from a file, so each frame states its size, as `zstd` writes them.
      const frames = [data.subarray(0, half), data.subarray(half)].map((part, i) => {
        const p = `${out}.part${i}`;
        fs.writeFileSync(p, part);
        const frame = run('zstd', ['-q', '-c', p]);
        fs.rmSync(p);
        return frame;
      });
      fs.writeFileSync(out, Buffer.concat([frames[0] as Buffer, skippable, frames[1] as Buffer]));
      break;
    }
    case 'bz2':
      fs.writeFileSync(out, run('bzip2', ['-c', raw]));
      break;
    case 'zip': {
      const stage = fs.mkdtempSync(path.join(fixtureDir(), 'zip-'));
      fs.copyFileSync(raw, path.join(stage, 'os.img'));
      fs.writeFileSync(path.join(stage, 'README.txt'), 'Write os.img to an SD card.\n');
      fs.rmSync(out, { force: true });
      run('zip', ['-q', '-6', out, 'os.img', 'README.txt'], { cwd: stage });
      fs.rmSync(stage, { recursive: true, force: true });
      break;
    }
  }
  return out;
}

/** SHA-256 (hex) of a file or buffer. */
export function sha256Of(data: string | Buffer, algorithm = 'sha256'): string {
  return crypto.createHash(algorithm).update(typeof data === 'string' ? fs.readFileSync(data) : data).digest('hex');
}

/** Writes `data` to a new file `name` in the fixture folder; returns its path. */
export function makeFile(name: string, data: Buffer): string {
  const p = path.join(fixtureDir(), name);
  fs.writeFileSync(p, data);
  return p;
}
