import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runTool } from '../../testing/run-tool';
import { viewTree, withView } from './ntfs-test-view';
import { junkOutside, makeFragmentedMftNtfs, mapOf, ntfsinfoRuns, partcloneRanges, usedBlocks, walkTree, withNtfsMount, type TreeEntry } from './ntfs-test-volume';

/** An MFT in several runs: records past the first run are found through $MFT's own runlist. */
describe('NTFS with a fragmented MFT', () => {
  let image = '';
  let tree: TreeEntry[] = [];
  before(async () => {
    image = await makeFragmentedMftNtfs('fragmented-mft.img');
    tree = await withNtfsMount(image, true, async (dir) => walkTree(dir));
  });
  after(() => fs.rmSync(image, { force: true }));

  test('the fixture really has an MFT in several runs', async () => {
    const runs = await ntfsinfoRuns(image, 0);
    assert.ok(runs.length >= 2, `MFT runs: ${JSON.stringify(runs)}`);
  });

  test('allocation map matches partclone and keeps every file', async () => {
    const m = usedBlocks(await mapOf(image));
    assert.deepEqual(m.ranges.slice(0, -1), await partcloneRanges(image));
    const junked = junkOutside(image, m.ranges, 'fragmented-mft-junked.img');
    try {
      await runTool('ntfsresize', ['--info', '--no-action', '-f', junked], 60_000);
      assert.deepEqual(await withNtfsMount(junked, true, async (dir) => walkTree(dir)), tree);
    } finally {
      fs.rmSync(junked, { force: true });
    }
  });

  test('lists and reads every file, records past the MFT\'s first run included', async () => {
    const mine = await withView(image, viewTree);
    assert.equal(mine.filter((t) => t.path.startsWith('lots/')).length, 3000);
    assert.deepEqual(mine, tree);
  });
});
