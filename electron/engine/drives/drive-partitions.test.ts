import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLoopDevice, removeLoopDevice, type LoopDevice } from '../testing/loop-device';
import { partitionsOf } from './drive-partitions';
import { listDrives } from './list-drives';

const MiB = 1024 * 1024;
const why = process.platform !== 'linux' ? 'loop devices are Linux-only' : process.getuid?.() !== 0 ? 'attaching loop devices needs root' : null;

/** What blkid itself reads from a device (its low-level probe, no cache): the independent answer. */
const blkid = (device: string, tag: string) => execFileSync('blkid', ['-p', '-o', 'value', '-s', tag, device], { encoding: 'utf8' }).trim() || null;

test('every drive lists its partitions with filesystem and label (mkfs -n / -L), or its whole-drive filesystem', { skip: why ?? false }, async () => {
  if (why) console.log(`skipped: ${why}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-partitions-'));
  const loops: LoopDevice[] = [];
  try {
    // Two partitions, labelled the way people do it: FAT with -n, ext4 with -L.
    const parted = path.join(dir, 'parted.img');
    fs.writeFileSync(parted, Buffer.alloc(24 * MiB));
    execFileSync('sfdisk', ['--quiet', parted], { input: 'label: dos\nstart=2048, size=16384, type=c\nstart=18432, type=83\n' });
    execFileSync('mkfs.vfat', ['--offset', '2048', '-n', 'BOOTLBL', parted, String((16384 * 512) / 1024)], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${18432 * 512}`, '-L', 'rootfs', parted, `${(24 * MiB - 18432 * 512) / 1024}k`], { stdio: 'ignore' });
    const whole = path.join(dir, 'whole.img');
    fs.writeFileSync(whole, Buffer.alloc(16 * MiB));
    execFileSync('mkfs.vfat', ['-n', 'WHOLEDISK', whole], { stdio: 'ignore' });
    loops.push(await createLoopDevice(24 * MiB, { file: parted }), await createLoopDevice(16 * MiB, { file: whole }));
    const [p, w] = loops as [LoopDevice, LoopDevice];
    // No udev here: partx tells the kernel about the partitions (as the format job does).
    execFileSync('partx', ['-a', p.device]);

    const drives = await listDrives();
    const parts = drives.find((d) => d.device === p.device)?.partitions;
    assert.ok(parts, `${p.device} listed with partitions`);
    assert.deepEqual(
      parts.map((x) => [x.device, x.filesystem, x.label, x.size]),
      [`${p.device}p1`, `${p.device}p2`].map((dev) => [dev, blkid(dev, 'TYPE'), blkid(dev, 'LABEL'), Number(execFileSync('blockdev', ['--getsize64', dev], { encoding: 'utf8' }))]),
    );
    assert.deepEqual(parts.map((x) => x.label), ['BOOTLBL', 'rootfs']);
    assert.deepEqual(parts.map((x) => x.mountpoints), [[], []]);

    const wholeParts = drives.find((d) => d.device === w.device)?.partitions;
    assert.deepEqual(wholeParts, [{ device: w.device, size: 16 * MiB, filesystem: blkid(w.device, 'TYPE'), label: 'WHOLEDISK', mountpoints: [] }]);
  } finally {
    // removeLoopDevice drops the partitions partx added, then detaches.
    for (const loop of loops) await removeLoopDevice(loop);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a drive a job holds is not probed: lsblk\'s own facts only; labels from the medium are cut to one line', () => {
  const node = { name: 'loop9', path: '/dev/loop9', size: 1 << 20, type: 'loop', ro: false, rm: false, children: [{ name: 'loop9p1', path: '/dev/loop9p1', size: 512, type: 'part', ro: false, rm: false, fstype: null, label: null, mountpoints: ['/mnt/x', null] }] };
  assert.deepEqual(partitionsOf(node, false), [{ device: '/dev/loop9p1', size: 512, filesystem: null, label: null, mountpoints: ['/mnt/x'] }]);
  const long = { ...node, children: [{ ...node.children[0]!, fstype: 'exfat', label: 'x'.repeat(300) }] };
  assert.equal(partitionsOf(long, false)[0]?.label?.length, 64);
  assert.deepEqual(partitionsOf({ ...node, children: [] }, false), [], 'no partitions and nothing known of the whole drive: nothing to show');
});
