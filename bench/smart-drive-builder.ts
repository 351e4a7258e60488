import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, MiB } from './bench-config';
import { mustBash, mustExec } from './exec';

/**
 * Issue 14's bench drive, built once and cached: 3 GiB, GPT, an ext4, a
 * FAT32 and an NTFS partition holding about 600 MiB of files (system files
 * and random data), on a drive that held random junk before it was
 * partitioned, with more files written and deleted so free space holds old
 * data, as on a drive in use. Only ever read by the bench afterwards.
 */
export const SMART_DRIVE_VERSION = 'smart-drive-v2';
export const SMART_DRIVE_SIZE = 3 * 1024 * MiB;
const DIR = path.join(CACHE_ROOT, SMART_DRIVE_VERSION);
export const SMART_DRIVE_FILE = path.join(DIR, 'drive.img');

/** Partitions: start and size in MiB, sfdisk type, filesystem. */
export const SMART_PARTITIONS = [
  { start: 1, size: 1536, type: 'L', fs: 'ext4' },
  { start: 1537, size: 512, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', fs: 'fat32' },
  // To the end of the drive but its last MiB (the backup GPT): no unpartitioned junk, as on a drive in use.
  { start: 2049, size: 1022, type: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', fs: 'ntfs' },
] as const;

/** Copies up to `bytes` of files under `from` into `to` with tar (system files: real, compressible data). */
const copySystemFiles = (from: string, to: string, bytes: number): Promise<unknown> =>
  mustBash(`cd "$1" && find . -type f -size -8M 2>/dev/null | head -n 200000 | tar -cf - --files-from=- --no-recursion 2>/dev/null | head -c "$3" | tar -xf - -C "$2" 2>/dev/null || true`, [from, to, String(bytes)]);

/** Random bytes (AES-CTR over zeros). openssl dies of SIGPIPE when head has enough: the size is checked instead. */
async function randomFile(file: string, bytes: number): Promise<void> {
  await mustBash('set +o pipefail; openssl enc -aes-128-ctr -pass pass:imprint -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c "$2" > "$1"', [file, String(bytes)]);
  if (fs.statSync(file).size !== bytes) throw new Error(`${file}: wrote ${fs.statSync(file).size} bytes, wanted ${bytes}`);
}

export async function ensureSmartDrive(log: (s: string) => void): Promise<string> {
  const done = path.join(DIR, 'complete');
  if (fs.existsSync(done)) return SMART_DRIVE_FILE;
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  log(`Building the smart-backup bench drive (${SMART_DRIVE_SIZE / MiB} MiB) in ${DIR}...`);
  await randomFile(SMART_DRIVE_FILE, SMART_DRIVE_SIZE);
  const dev = (await mustExec(['losetup', '-f', '--show', SMART_DRIVE_FILE])).stdout.trim();
  const mnt = path.join(DIR, 'mnt');
  fs.mkdirSync(mnt, { recursive: true });
  try {
    const table = ['label: gpt', ...SMART_PARTITIONS.map((p) => `start=${p.start * 2048}, size=${p.size * 2048}, type=${p.type}`)].join('\n');
    await mustBash('echo "$2" | sfdisk -q "$1"', [dev, table]);
    await mustExec(['partx', '-a', dev]).catch(() => undefined);
    const [ext, fat, ntfs] = [1, 2, 3].map((n) => `${dev}p${n}`) as [string, string, string];
    await mustExec(['mkfs.ext4', '-q', '-F', '-L', 'bench-root', ext]);
    await mustExec(['mount', ext, mnt]);
    try {
      fs.mkdirSync(path.join(mnt, 'usr'));
      await copySystemFiles('/usr', path.join(mnt, 'usr'), 260 * MiB);
      await randomFile(path.join(mnt, 'data.bin'), 60 * MiB);
      await randomFile(path.join(mnt, 'deleted.bin'), 300 * MiB);
      fs.rmSync(path.join(mnt, 'deleted.bin'));
    } finally {
      await mustExec(['umount', mnt]);
    }
    // mtools refuses a loop partition ("Could not get geometry"): the FAT is made and
    // filled in a file, then copied in with holes skipped, so the junk in its free space stays.
    const fatFile = path.join(DIR, 'fat.img');
    await mustExec(['truncate', '-s', String(SMART_PARTITIONS[1].size * MiB), fatFile]);
    await mustExec(['mkfs.vfat', '-F', '32', '-n', 'BENCHFAT', fatFile]);
    const staging = path.join(DIR, 'fat-files');
    fs.mkdirSync(staging, { recursive: true });
    // A few large files: mtools copies thousands of small ones slowly (minutes).
    await mustBash('set +o pipefail; tar -cf - -C /usr share/doc share/man 2>/dev/null | head -c "$2" > "$1"', [path.join(staging, 'docs.tar'), String(80 * MiB)]);
    await randomFile(path.join(staging, 'photo.bin'), 30 * MiB);
    await randomFile(path.join(staging, 'gone.bin'), 100 * MiB);
    await mustBash('mcopy -i "$1" "$2"/* ::/ && mdel -i "$1" ::/gone.bin', [fatFile, staging]);
    await mustExec(['dd', `if=${fatFile}`, `of=${fat}`, 'bs=4M', 'conv=sparse,notrunc,fsync', 'status=none']);
    fs.rmSync(fatFile, { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
    await mustExec(['mkntfs', '-Q', '-F', '-q', '-L', 'BENCHNTFS', ntfs]);
    await mustExec(['ntfs-3g', ntfs, mnt]);
    try {
      fs.mkdirSync(path.join(mnt, 'lib'));
      await copySystemFiles('/usr/lib', path.join(mnt, 'lib'), 120 * MiB);
      await randomFile(path.join(mnt, 'video.bin'), 50 * MiB);
      await randomFile(path.join(mnt, 'old.bin'), 150 * MiB);
      fs.rmSync(path.join(mnt, 'old.bin'));
    } finally {
      await mustExec(['umount', mnt]);
    }
  } finally {
    await mustExec(['partx', '-d', dev]).catch(() => undefined);
    await mustExec(['losetup', '-d', dev]);
  }
  fs.writeFileSync(done, new Date().toISOString());
  return SMART_DRIVE_FILE;
}
