import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../../engine/testing/run-tool';
import { runCli } from '../testing/run-cli';
import { buildTestDisk, checkSource, type TestDisk } from './browse-checks';

/**
 * `imprint ls` / `imprint extract` through compressed images (issue #16): a
 * multi-block .xz through its block index, a .gz and a .zip decoded from the
 * start (and saying so). The partition table and the ext4 partition are
 * compared with the tree it was built from (browse.integration.test.ts does
 * every partition on the raw image, a drive and a backup).
 */

const t = tempDir('browse-formats');
let d: TestDisk;

before(async () => {
  d = await buildTestDisk(t.dir);
});

after(() => t.remove());

test('a multi-block .xz is read through its block index; .gz and .zip from the start, and say so', async () => {
  const xz = path.join(t.dir, 'disk.img.xz');
  await runTool('xz', ['-k', '-T2', '--block-size=1MiB', '-1', d.disk], SLOW_TOOL_MS);
  await checkSource(d, xz, false);
  const x = await runCli(['ls', xz, '1:/']);
  assert.doesNotMatch(x.stderr, /from the start/);
  fs.rmSync(xz);

  const gz = path.join(t.dir, 'disk.img.gz');
  await runTool('gzip', ['-k', '-1', d.disk], SLOW_TOOL_MS);
  await checkSource(d, gz, false);
  const g = await runCli(['ls', gz, '1:/']);
  assert.match(g.stderr, /no index: reading from the start/);
  fs.rmSync(gz);

  const zip = path.join(t.dir, 'disk.zip');
  await runTool('zip', ['-q', '-j', '-1', zip, d.disk], SLOW_TOOL_MS);
  await checkSource(d, zip, false);
  fs.rmSync(zip);
});

