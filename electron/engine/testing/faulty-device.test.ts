// Real faulty block devices (nbdkit -> nbdfuse -> loop), probed with real I/O
// from Node. Needs root, /dev/fuse and the packages in .ci/apt-packages.
import { test, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { allocAligned } from '../io/aligned-buffer';
import { createFaultyDevice, faultToolsAvailable, withFaultyDevice } from './faulty-device';
import { isLoopAttached, loopSysfs } from './loop-device';
import { faultyDirsCreated, reapStale } from './faulty-device-teardown';
import { runTool } from './run-tool';

const MiB = 1 << 20;
const BLOCK = 4096;
// Each test builds and tears down its own device in about a second; 60 s
// means something is stuck, and failing beats hanging the whole run.
const TIMEOUT = 60_000;

const tools = faultToolsAvailable();
const skipReason = tools.ok ? '' : `faulty-device harness unavailable, missing: ${tools.missing.join(', ')}`;
if (skipReason) console.log(`# ${skipReason}`);

/** True when the test may run; otherwise marks it skipped with the reason. */
function canRun(t: TestContext): boolean {
  if (skipReason) t.skip(skipReason);
  return !skipReason;
}

/** O_DIRECT needs a page-aligned buffer: WebAssembly memory (io/aligned-buffer). */
function block(fill: number | string): Buffer {
  const buf = allocAligned(BLOCK);
  if (typeof fill === 'number') buf.fill(fill);
  else buf.fill(0).write(fill);
  return buf;
}

function openDirect(device: string): number {
  return fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_DIRECT);
}

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

test('a read in a bad range fails with EIO; reads elsewhere succeed', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  await withFaultyDevice({ size: 16 * MiB, readErrors: [{ offset: 1 * MiB, length: BLOCK }] }, async (d) => {
    const fd = openDirect(d.device);
    try {
      const buf = block(0);
      assert.equal(fs.readSync(fd, buf, 0, BLOCK, 1 * MiB - BLOCK), BLOCK);
      assert.equal(fs.readSync(fd, buf, 0, BLOCK, 1 * MiB + BLOCK), BLOCK);
      assert.equal(errnoOf(() => fs.readSync(fd, buf, 0, BLOCK, 1 * MiB)), 'EIO');
      // A larger read that overlaps the range fails whole (NBD has no short reads).
      assert.equal(errnoOf(() => fs.readSync(fd, allocAligned(64 * 1024), 0, 64 * 1024, 1 * MiB - 8192)), 'EIO');
      // The fault is persistent, as on a bad sector: the same read fails again.
      assert.equal(errnoOf(() => fs.readSync(fd, buf, 0, BLOCK, 1 * MiB)), 'EIO');
    } finally {
      fs.closeSync(fd);
    }
  });
});

test('a write in a bad range: EIO at write() with O_DIRECT, only at fsync() when buffered', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const bad = 2 * MiB;
  await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: bad, length: BLOCK }] }, async (d) => {
    const direct = openDirect(d.device);
    try {
      assert.equal(fs.writeSync(direct, block(0xaa), 0, BLOCK, bad - BLOCK), BLOCK);
      assert.equal(errnoOf(() => fs.writeSync(direct, block(0xbb), 0, BLOCK, bad)), 'EIO');
    } finally {
      fs.closeSync(direct);
    }
    // Buffered: write() lands in the page cache and "succeeds"; the error
    // appears at fsync (docs/block-io.md: only once; close without fsync reports nothing).
    const buffered = fs.openSync(d.device, fs.constants.O_RDWR);
    try {
      assert.equal(fs.writeSync(buffered, Buffer.alloc(BLOCK, 0xcc), 0, BLOCK, bad), BLOCK);
      assert.equal(errnoOf(() => fs.fsyncSync(buffered)), 'EIO');
    } finally {
      fs.closeSync(buffered);
    }
    assert.deepEqual(await d.readBacking(bad - BLOCK, 4), Buffer.alloc(4, 0xaa));
    assert.deepEqual(await d.readBacking(bad, 4), Buffer.alloc(4), 'nothing reached the bad range');
  });
});

test('a counterfeit drive wraps: a marker written at backingSize + X reads back at X', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const backingSize = 4 * MiB;
  const x = 64 * 1024;
  await withFaultyDevice({ size: 64 * MiB, backingSize }, async (d) => {
    const fd = openDirect(d.device);
    try {
      assert.equal(fs.writeSync(fd, block('ORIGINAL at X'), 0, BLOCK, x), BLOCK);
      assert.equal(fs.writeSync(fd, block('MARKER at backingSize+X'), 0, BLOCK, backingSize + x), BLOCK);
      const got = block(0);
      assert.equal(fs.readSync(fd, got, 0, BLOCK, x), BLOCK);
      assert.equal(got.subarray(0, 23).toString(), 'MARKER at backingSize+X');
    } finally {
      fs.closeSync(fd);
    }
    assert.equal((await d.readBacking(x, 23)).toString(), 'MARKER at backingSize+X');
  });
});

test('the device reports spec.size, not the real capacity', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const size = 64 * 1024 * MiB; // 64 GiB claimed; the backing file is sparse
  await withFaultyDevice({ size, backingSize: 1 * MiB }, async (d) => {
    assert.equal(Number(loopSysfs(d.device, 'size')) * 512, size);
    assert.equal(loopSysfs(d.device, 'loop/dio'), '1', 'direct I/O, or read errors would be hidden');
  });
});

test('initialContent preloads the device (from a Buffer or a file)', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-fdtest-'));
  try {
    const image = path.join(dir, 'image.bin');
    fs.writeFileSync(image, Buffer.concat([Buffer.alloc(BLOCK, 1), Buffer.from('from a file')]));
    for (const initialContent of [Buffer.from('from a buffer'), image]) {
      await withFaultyDevice({ size: 1 * MiB, initialContent }, async (d) => {
        const fd = openDirect(d.device);
        const got = block(0);
        try {
          const at = typeof initialContent === 'string' ? BLOCK : 0;
          assert.equal(fs.readSync(fd, got, 0, BLOCK, at), BLOCK);
          const want = typeof initialContent === 'string' ? 'from a file' : 'from a buffer';
          assert.equal(got.subarray(0, want.length).toString(), want);
        } finally {
          fs.closeSync(fd);
        }
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('past shortAfter writes fail with ENOSPC and reads with EIO; writeErrors can say ENOSPC too', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const end = 8 * MiB;
  await withFaultyDevice({ size: 16 * MiB, shortAfter: end, writeErrors: [{ offset: MiB, length: BLOCK, errno: 'ENOSPC' }] }, async (d) => {
    const fd = openDirect(d.device);
    try {
      const buf = block(0x11);
      assert.equal(fs.writeSync(fd, buf, 0, BLOCK, end - BLOCK), BLOCK);
      assert.equal(errnoOf(() => fs.writeSync(fd, buf, 0, BLOCK, end)), 'ENOSPC');
      assert.equal(errnoOf(() => fs.writeSync(fd, allocAligned(2 * BLOCK), 0, 2 * BLOCK, end - BLOCK)), 'ENOSPC', 'a straddling write fails whole');
      assert.equal(errnoOf(() => fs.readSync(fd, buf, 0, BLOCK, end + MiB)), 'EIO');
      assert.equal(fs.readSync(fd, buf, 0, BLOCK, end - BLOCK), BLOCK);
      assert.equal(errnoOf(() => fs.writeSync(fd, buf, 0, BLOCK, MiB)), 'ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
  });
});

test('kill(): the device is gone and every later I/O fails', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  await withFaultyDevice({ size: 4 * MiB }, async (d) => {
    const fd = openDirect(d.device);
    try {
      assert.equal(fs.writeSync(fd, block('before'), 0, BLOCK, 0), BLOCK);
      await d.kill();
      const buf = block(0);
      assert.equal(errnoOf(() => fs.readSync(fd, buf, 0, BLOCK, 0)), 'EIO');
      assert.equal(errnoOf(() => fs.writeSync(fd, buf, 0, BLOCK, 0)), 'EIO');
    } finally {
      fs.closeSync(fd);
    }
    assert.equal((await d.readBacking(0, 6)).toString(), 'before', 'what was written before stays in the backing store');
  });
});

// The blocked write runs in a worker: the thread sits in D state and no
// signal frees it, so the main thread must stay free to time it out and close().
const HANG_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const buf = Buffer.from(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer, 0, 4096).fill(0x5a);
const fd = fs.openSync(workerData.device, fs.constants.O_RDWR | fs.constants.O_DIRECT);
fs.writeSync(fd, buf, 0, 4096, 0);
parentPort.postMessage({ step: 'first' });
try {
  fs.writeSync(fd, buf, 0, 4096, 4096);
  parentPort.postMessage({ step: 'second', code: 'OK' });
} catch (err) {
  parentPort.postMessage({ step: 'second', code: err.code });
}
fs.closeSync(fd);
`;

/** Sorted one-letter states of this process's threads, e.g. "DSSSSS". */
function threadStates(): string {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  }).sort().join('');
}

test('hangAfterBytesWritten: the next write never returns; close() still cleans up', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  const d = await createFaultyDevice({ size: 4 * MiB, hangAfterBytesWritten: BLOCK });
  const worker = new Worker(HANG_WORKER, { eval: true, workerData: { device: d.device } });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const messages: { step: string; code?: string }[] = [];
  let onMessage = () => {};
  worker.on('message', (m: { step: string; code?: string }) => {
    messages.push(m);
    onMessage();
  });
  worker.on('error', (err) => {
    messages.push({ step: 'error', code: String(err) });
    onMessage();
  });
  const nextMessage = (ms: number) => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    onMessage = () => { clearTimeout(timer); resolve(true); };
  });
  try {
    assert.ok(await nextMessage(10_000), 'the first write (under the limit) completes');
    // 2 s: a healthy 4 KiB write here takes about a millisecond.
    assert.equal(await nextMessage(2_000), false, 'the second write is still blocked');
    assert.deepEqual(messages.map((m) => m.step), ['first']);
    t.diagnostic(`thread states while hung: ${threadStates()} (D = uninterruptible, no signal frees it)`);
  } finally {
    const closed = nextMessage(20_000);
    await d.close();
    // Killing nbdkit answered the blocked write with an error.
    assert.ok(await closed, 'the blocked write returned after close()');
    await exited;
  }
  assert.equal(messages[1]?.code, 'EIO');
  assert.equal(isLoopAttached(d.device), false);
  await d.close(); // idempotent
});

test('a bad spec is refused before anything is set up', async () => {
  await assert.rejects(createFaultyDevice({ size: 1000 }), RangeError);
  await assert.rejects(createFaultyDevice({ size: MiB, backingSize: 2 * MiB }), RangeError);
  await assert.rejects(createFaultyDevice({ size: MiB, readErrors: [{ offset: -1, length: 1 }] }), RangeError);
});

/** Live (non-zombie) processes whose command line matches. */
function processesMentioning(match: (cmdline: string) => boolean): string[] {
  return fs.readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) && match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false; // exited meanwhile
    }
  });
}

// A test process that dies mid-test: SIGTERM runs its own synchronous
// teardown; SIGKILL leaves things for the janitor (reapStale) of the next run.
const DOOMED_CHILD = `
const { createFaultyDevice } = require(process.argv[1]);
createFaultyDevice({ size: 1 << 20 }).then((d) => { console.log(d.device); setInterval(() => {}, 1000); });
`;

test('a test process killed mid-test leaves nothing behind (own handler or the janitor)', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const child = spawn(process.execPath, ['-e', DOOMED_CHILD, path.join(__dirname, 'faulty-device.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const device = await Promise.race([
      new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()))),
      exited.then(() => assert.fail('the child exited before making its device')),
    ]);
    const dir = fs.readdirSync(os.tmpdir()).map((n) => path.join(os.tmpdir(), n)).find((d) => fs.existsSync(path.join(d, 'owner')) && fs.readFileSync(path.join(d, 'owner'), 'utf8') === String(child.pid));
    assert.ok(dir && isLoopAttached(device), `${signal}: the child made its device`);
    child.kill(signal);
    await exited;
    if (signal === 'SIGKILL') reapStale();
    assert.equal(loopSysfs(device, 'loop/backing_file').includes(dir), false, `${signal}: loop detached`);
    assert.equal(fs.existsSync(dir), false, `${signal}: temp dir removed`);
    assert.equal(fs.readFileSync('/proc/self/mounts', 'utf8').includes(dir), false, `${signal}: FUSE unmounted`);
    assert.deepEqual(processesMentioning((s) => s.includes(dir)), [], `${signal}: nbdkit and nbdfuse gone`);
  }
});

test('nothing is left behind: no loop device, FUSE mount, nbdkit or temp dir of ours', { timeout: TIMEOUT }, async (t) => {
  if (!canRun(t)) return;
  // Only this process's devices: other tests on this machine may be using
  // faulty devices right now.
  const dirs = faultyDirsCreated();
  assert.ok(dirs.length >= 8, 'the tests above made devices');
  const ours = (s: string) => dirs.some((dir) => s.includes(dir));
  const loops = (await runTool('losetup', ['-a'])).stdout.split('\n').filter(ours);
  assert.deepEqual(loops, []);
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(ours);
  assert.deepEqual(mounts, []);
  assert.deepEqual(processesMentioning(ours), []);
  assert.deepEqual(dirs.filter((dir) => fs.existsSync(dir)), []);
});
