import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, IMPRINT_CLI } from './bench-config';
import { exec, mustExec } from './exec';

/**
 * Taking a whole folder back out of a backup (issue 16's "the most common
 * restore is one folder someone deleted"): `imprint extract BACKUP 1:/usr`
 * (the bench drive's /usr: tens of thousands of small files across the ext4
 * partition) beside what a user of a sector image does, the raw drive image
 * mounted read-only and `cp -a` of the folder. A reference, not a target:
 * the mount needs root and an unpacked image, which Imprint needs neither.
 * Both write to memory (/dev/shm) where it has room: on this machine's disk
 * creating a file costs about 1 ms, which would swamp both.
 */
const FOLDER = '/usr';

export async function extractFolderRows(backup: string, driveFile: string): Promise<string[][]> {
  const shm = hasRoom('/dev/shm', 2 << 30);
  const root = fs.mkdtempSync(path.join(shm ? '/dev/shm' : CACHE_ROOT, 'imprint-extract-folder-'));
  const rows: string[][] = [];
  try {
    const out = path.join(root, 'imprint');
    const x = await exec([process.execPath, IMPRINT_CLI, 'extract', backup, `1:${FOLDER}`, out, '--json']);
    const done = x.stdout.split('\n').find((l) => l.startsWith('{"type":"extracted"'));
    const totals = done ? (JSON.parse(done) as { files?: number; bytes?: number; seconds?: number }) : {};
    const what = `imprint extract BACKUP 1:${FOLDER} (${totals.files ?? '?'} files, ${((totals.bytes ?? 0) / 1e6).toFixed(0)} MB)`;
    rows.push([what, x.seconds.toFixed(2), typeof totals.seconds === 'number' ? totals.seconds.toFixed(2) : '-', x.code === 0 ? `to ${shm ? '/dev/shm' : 'disk'}` : `failed: ${x.stderr.slice(-200)}`]);
    rows.push([`mount the raw drive image read-only, cp -a ${FOLDER} (reference)`, ...(await mountedCopy(driveFile, path.join(root, 'cp')))]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

/** Whether `dir` exists and has more than `bytes` free. */
export function hasRoom(dir: string, bytes: number): boolean {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize > bytes;
  } catch {
    return false;
  }
}

/** `cp -a` of FOLDER from partition 1 of the raw image, mounted read-only: [seconds, '-', result]. */
async function mountedCopy(driveFile: string, out: string): Promise<string[]> {
  const dev = (await mustExec(['losetup', '-f', '--show', '-r', '-P', driveFile])).stdout.trim();
  const mnt = fs.mkdtempSync(path.join(CACHE_ROOT, 'mnt-'));
  let mounted = false;
  try {
    // No udev here: the partition nodes appear once partx announces them.
    await exec(['partx', '-a', dev]);
    await mustExec(['mount', '-o', 'ro', `${dev}p1`, mnt]);
    mounted = true;
    fs.mkdirSync(out);
    const c = await exec(['cp', '-a', path.join(mnt, FOLDER), out]);
    return [c.seconds.toFixed(2), '-', c.code === 0 ? 'reference' : `failed: ${c.stderr.slice(-200)}`];
  } catch (err) {
    return ['-', '-', `not run: ${(err as Error).message.slice(-200)}`];
  } finally {
    if (mounted) await exec(['umount', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    await exec(['losetup', '-d', dev]);
  }
}
