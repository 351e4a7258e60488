import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { layoutOfFile, layoutOfPieces } from './drive-layout';
import { tempDir } from '../testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../testing/run-tool';

/**
 * Reading a layout from a stream of content (a compressed image) must not
 * depend on how the decoder cuts its output: a pipe's pieces have any size,
 * and one may straddle the end of the head and the start of a partition.
 */
test('a layout read from pieces of any size equals the one read from the file', async () => {
  const t = tempDir('layout-pieces');
  try {
    const img = path.join(t.dir, 'disk.img');
    fs.writeFileSync(img, Buffer.alloc(0));
    fs.truncateSync(img, 24 << 20);
    await runTool('sh', ['-c', 'echo "2048,,83" | sfdisk --quiet "$1"', 'sh', img], SLOW_TOOL_MS);
    // The filesystem starts at 1 MiB, right where the head the stream reader keeps ends.
    await runTool('mkfs.ext4', ['-q', '-F', '-L', 'pieces', '-E', 'offset=1048576', img, '20M'], SLOW_TOOL_MS);
    const expected = layoutOfFile(img, 24 << 20, false);
    assert.equal(expected.partitionTable?.partitions[0]?.filesystem?.type, 'ext4', 'the fixture has an ext4 partition');
    const content = fs.readFileSync(img);
    for (const size of [3 << 20, (1 << 20) + 4096, 65_536 + 7, 1 << 20, 4096]) {
      async function* pieces(): AsyncGenerator<Buffer> {
        for (let at = 0; at < content.length; at += size) yield content.subarray(at, at + size);
      }
      assert.deepEqual(await layoutOfPieces(pieces()), expected, `pieces of ${size} bytes`);
    }
  } finally {
    t.remove();
  }
});
