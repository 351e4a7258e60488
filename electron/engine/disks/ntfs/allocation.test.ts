import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runTool } from '../../testing/run-tool';
import type { ByteRange } from '../filesystem-driver';
import { viewTree, withView } from './ntfs-test-view';
import { junkOutside, makePopulatedNtfs, mapOf, partcloneRanges, usedBlocks, walkTree, withNtfsMount, type TreeEntry } from './ntfs-test-volume';

/**
 * The NTFS allocation map against volumes made by mkntfs and filled by
 * ntfs-3g: it must match what partclone (libntfs-3g's bitmap reading, an
 * independent implementation) maps, and keeping only its ranges (everything
 * else overwritten with random bytes) must leave a filesystem that ntfsfix
 * and ntfsresize accept and whose every file reads back the same.
 */

// Folders of 1,000 and 300 files keep this file under a minute (ntfs-view.test.ts has the 2,000-file one).
const CASES = [
  { clusterSize: 4096, sizeMiB: 64, manyFiles: 1000 },
  { clusterSize: 1024, sizeMiB: 64, manyFiles: 300 },
  { clusterSize: 65536, sizeMiB: 128, manyFiles: 300 },
];

for (const c of CASES) {
  describe(`NTFS allocation map, ${c.clusterSize}-byte clusters`, () => {
    let image = '';
    let tree: TreeEntry[] = [];
    before(async () => {
      image = await makePopulatedNtfs(`alloc-${c.clusterSize}.img`, c);
      tree = await withNtfsMount(image, true, async (dir) => walkTree(dir));
    });
    after(() => fs.rmSync(image, { force: true }));

    test('matches partclone cluster for cluster, plus the backup boot sector, and ntfscluster\'s free count', async () => {
      const m = usedBlocks(await mapOf(image));
      assert.equal(m.filesystem, 'ntfs');
      assert.equal(m.blockSize, c.clusterSize);
      const size = fs.statSync(image).size;
      const last = m.ranges.at(-1) as ByteRange;
      assert.deepEqual(last, { start: size - 512, length: 512 }, 'the last sector (backup boot sector) is kept');
      const clusters = m.ranges.slice(0, -1);
      assert.deepEqual(clusters, await partcloneRanges(image));
      const info = (await runTool('ntfscluster', ['--info', image])).stdout;
      const free = Number(/clusters of free space\s*:\s*(\d+)/.exec(info)?.[1]);
      const total = Math.floor((size - 512) / c.clusterSize);
      assert.equal((m.usedBytes - 512) / c.clusterSize, total - free);
      for (let i = 1; i < m.ranges.length; i++) {
        const a = m.ranges[i - 1] as ByteRange;
        assert.ok(a.start + a.length < (m.ranges[i] as ByteRange).start, 'ranges sorted, apart, merged');
      }
      console.log(`# ${c.clusterSize}-byte clusters: ${m.ranges.length} ranges, ${m.usedBytes} of ${size} bytes used`);
    });

    test('keeping only the mapped bytes keeps the filesystem and every file', async () => {
      const m = usedBlocks(await mapOf(image));
      const junked = junkOutside(image, m.ranges, `junked-${c.clusterSize}.img`);
      try {
        const fix = await runTool('ntfsfix', ['-n', junked], 60_000);
        assert.match(fix.stdout, /Checking the alternate boot sector\.\.\. OK/);
        assert.match(fix.stdout, /processed successfully/);
        await runTool('ntfsresize', ['--info', '--no-action', '-f', junked], 60_000);
        const after = await withNtfsMount(junked, true, async (dir) => walkTree(dir));
        assert.ok(tree.length > c.manyFiles, `tree of ${tree.length} entries`);
        assert.deepEqual(after, tree);
      } finally {
        fs.rmSync(junked, { force: true });
      }
    });

    test('lists and reads every file as ntfs-3g does (index blocks counted in clusters or in 512-byte units)', async () => {
      assert.deepEqual(await withView(image, viewTree), tree);
    });
  });
}
