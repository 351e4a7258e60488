import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { FileEntry, FilesystemView } from '../disks/filesystem-driver';
import { BrowseSession } from './browse-source';
import { Extractor } from './extract-files';
import { SLOW_TOOL_MS, runTool } from '../testing/run-tool';
import { noise, tempDir } from '../testing/test-drives';

/**
 * The order in which `Extractor` copies a folder's files: by where their
 * data lies in the volume, not in the order the walk meets them, so that a
 * backup's frames are decoded about once each (extract-files.ts). A FAT
 * volume made by mtools gives both orders for certain: mtools takes the
 * first free clusters, so the files copied into b/ before those copied into
 * a/ lie lower in the volume, while the walk lists a/ (made first) first.
 */

const t = tempDir('extract-order');
let image: string;
const files: Record<string, Buffer> = {};

before(async () => {
  image = path.join(t.dir, 'fat.img');
  await runTool('mkfs.vfat', ['-C', '-F', '16', '-n', 'ORDER', image, String(32 * 1024)], SLOW_TOOL_MS);
  await runTool('mmd', ['-i', image, '::a', '::b'], SLOW_TOOL_MS);
  const staging = path.join(t.dir, 'staging');
  fs.mkdirSync(staging);
  let seed = 1;
  // b/ first (the low clusters), then a/.
  for (const dir of ['b', 'a']) {
    for (const name of [`${dir}1.bin`, `${dir}2.bin`]) {
      const data = noise(96 * 1024 + seed * 512, seed++);
      files[name] = data;
      fs.writeFileSync(path.join(staging, name), data);
      await runTool('mcopy', ['-i', image, path.join(staging, name), `::${dir}/${name}`], SLOW_TOOL_MS);
    }
  }
});

after(() => t.remove());

/** `view` with every file's first read recorded in `reads`, and without extents() unless `placed`. */
function recording(view: FilesystemView, reads: string[], placed: boolean): FilesystemView {
  const spy: FilesystemView = {
    filesystem: view.filesystem,
    label: view.label,
    warnings: view.warnings,
    root: () => view.root(),
    list: (dir) => view.list(dir),
    readlink: (link) => view.readlink(link),
    read: (file: FileEntry, offset: number, length: number) => {
      if (offset === 0) reads.push(file.name);
      return view.read(file, offset, length);
    },
  };
  if (placed && view.extents) spy.extents = (file) => view.extents!(file);
  return spy;
}

async function extractAll(placed: boolean): Promise<{ reads: string[]; dest: string }> {
  const session = await BrowseSession.open(image);
  try {
    const view = await session.view(1);
    const reads: string[] = [];
    const dest = fs.mkdtempSync(path.join(t.dir, 'dest-'));
    const ex = new Extractor(recording(view, reads, placed), dest, { force: false });
    await ex.extract(view.root(), '/');
    await ex.finish();
    assert.equal(ex.totals.problems, 0);
    assert.equal(ex.totals.files, 4);
    for (const [name, data] of Object.entries(files)) assert.ok(fs.readFileSync(path.join(dest, name[0]!, name)).equals(data), name);
    return { reads, dest };
  } finally {
    await session.close();
  }
}

test("a folder's files are copied in the order their data lies in the volume, not the walk's", async () => {
  const { reads } = await extractAll(true);
  assert.deepEqual(reads, ['b1.bin', 'b2.bin', 'a1.bin', 'a2.bin']);
});

test('a view that cannot place files keeps the walk order (and every file still arrives)', async () => {
  const { reads } = await extractAll(false);
  assert.deepEqual(reads, ['a1.bin', 'a2.bin', 'b1.bin', 'b2.bin']);
});
