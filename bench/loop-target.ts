import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CACHE_ROOT, MiB } from './bench-config';
import { mustBash, mustExec } from './exec';

/** A loop device the benchmark writes to, over a backing file it created. */
export interface LoopTarget {
  device: string;
  backingFile: string;
  size: number;
  detach(): Promise<void>;
}

/** Devices attached and not yet detached, so Ctrl-C can still clean up. */
const attached = new Map<string, string>();

process.once('SIGINT', () => {
  // The children got the same SIGINT; detach what this run attached, then stop.
  for (const [device, file] of attached) {
    try {
      execFileSync('losetup', ['-d', device]);
      fs.rmSync(file, { force: true });
    } catch {
      // Best effort: the device may still be busy for a moment; say so below.
      process.stderr.write(`bench: could not detach ${device} (backing file ${file}); detach it with losetup -d.\n`);
    }
  }
  process.exit(130);
});

/**
 * Makes a pre-allocated backing file (fallocate, then written once so every
 * extent is initialised: a file with holes or unwritten extents makes direct
 * writes several times slower, docs/block-io.md) and attaches it with direct I/O,
 * so the loop device neither reads nor writes through the page cache.
 * The caller must detach it in a finally.
 */
export async function attachLoopTarget(name: string, size: number): Promise<LoopTarget> {
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  const backingFile = path.join(CACHE_ROOT, `${name}-${process.pid}.bin`);
  fs.rmSync(backingFile, { force: true });
  await mustExec(['fallocate', '-l', String(size), backingFile]);
  await mustExec(['dd', 'if=/dev/zero', `of=${backingFile}`, 'bs=4M', `count=${Math.ceil(size / (4 * MiB))}`, 'oflag=direct', 'conv=notrunc,fsync', 'status=none']);
  let device: string;
  try {
    device = (await mustExec(['losetup', '-f', '--show', '--direct-io=on', backingFile])).stdout.trim();
  } catch (err) {
    fs.rmSync(backingFile, { force: true });
    throw err;
  }
  let detached = false;
  attached.set(device, backingFile);
  return {
    device,
    backingFile,
    size,
    async detach() {
      if (detached) return;
      detached = true;
      attached.delete(device);
      try {
        await mustExec(['losetup', '-d', device]);
      } finally {
        fs.rmSync(backingFile, { force: true });
      }
    },
  };
}

/** Overwrites the first `bytes` of a device with 0xFF, so a tool that writes nothing (or too little) cannot pass a content check on what an earlier run left. */
export async function scrambleDevice(device: string, bytes: number): Promise<void> {
  await mustBash(
    // tr dies of SIGPIPE when dd has enough: only dd's status counts here.
    `set +o pipefail; tr '\\000' '\\377' < /dev/zero | dd of="$1" bs=4M iflag=fullblock,count_bytes count="$2" oflag=direct conv=fsync status=none`,
    [device, String(bytes)],
  );
}

/**
 * fsync()s the device (coreutils `sync FILE`), which makes the kernel flush
 * the drive's write cache; for a loop device, the backing file's. Returns the
 * seconds it took: near 0 after a tool that flushed its own writes.
 */
export async function flushDevice(device: string): Promise<number> {
  const r = await mustExec(['sync', device]);
  return r.seconds;
}

/**
 * Flushes every filesystem's dirty pages (`sync`), so the next step does not
 * pay for the write-back of the one before: `dd | zstd -T0` leaves its
 * 1.6 GB output in the page cache, and the smart restore measured right
 * after it took 2.54-2.83 s where it takes 1.97-2.02 s after a sync. Not
 * counted for anyone; each tool still flushes what it writes in its time.
 */
export async function settleWrites(): Promise<void> {
  await mustExec(['sync']);
}

/** SHA-256 of a device's first `bytes`, read with O_DIRECT (never from the page cache). */
export async function hashDevice(device: string, bytes: number): Promise<string> {
  const r = await mustBash(`dd if="$1" iflag=direct,count_bytes bs=4M count="$2" status=none | openssl sha256 -r`, [device, String(bytes)]);
  return r.stdout.trim().split(/\s+/)[0] ?? '';
}
