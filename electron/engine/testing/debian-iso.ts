import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * A real bootable ISO that someone else built: Debian ships several inside
 * packages. `apt-get download` fetches the .deb (no install, no root hooks)
 * into a cache under the temp folder, and `dpkg -x` unpacks it.
 */

/** Packages that ship a hybrid (CD and USB bootable) ISO, in order of preference. */
const CANDIDATES: { pkg: string; iso: RegExp }[] = [
  { pkg: 'grub-rescue-pc', iso: /grub-rescue-cdrom\.iso$/ },
  { pkg: 'ipxe', iso: /ipxe\.iso$/ },
  { pkg: 'memtest86+', iso: /memtest86\+x64\.iso$/ },
];

export interface DebianIso {
  path: string;
  /** The package it came from, for messages. */
  pkg: string;
}

const CACHE = path.join(os.tmpdir(), 'imprint-test-debian-iso');

function findFile(dir: string, re: RegExp): string | null {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, re);
      if (found) return found;
    } else if (entry.isFile() && re.test(p)) return p;
  }
  return null;
}

function download(pkg: string, dir: string): void {
  // Run as root without apt's sandbox user, who cannot write to our cache folder.
  execFileSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
}

/**
 * Path of a real ISO from a Debian package, downloaded once and cached; or a
 * reason it cannot be had (apt unreachable, none of the packages exists).
 */
export function debianIso(): DebianIso | { skip: string } {
  const reasons: string[] = [];
  let updated = false;
  for (const { pkg, iso } of CANDIDATES) {
    const dir = path.join(CACHE, pkg);
    const unpacked = path.join(dir, 'root');
    if (fs.existsSync(unpacked)) {
      const found = findFile(unpacked, iso);
      if (found) return { path: found, pkg };
    }
    fs.mkdirSync(dir, { recursive: true });
    try {
      try {
        download(pkg, dir);
      } catch (err) {
        // A machine whose package lists were never fetched knows no packages yet.
        if (updated) throw err;
        updated = true;
        execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
        download(pkg, dir);
      }
      const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get download left no .deb');
      fs.rmSync(unpacked, { recursive: true, force: true });
      execFileSync('dpkg', ['-x', path.join(dir, deb), unpacked]);
      const found = findFile(unpacked, iso);
      if (found) return { path: found, pkg };
      reasons.push(`${pkg}: no ISO inside`);
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      reasons.push(`${pkg}: ${stderr || (err as Error).message}`);
    }
  }
  return { skip: `no Debian package with an ISO could be fetched (${reasons.join('; ')})` };
}
