import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { listFolder, readerOf } from './folder-listing';

test('a folder lists its readable folders first, then files with sizes; hidden and unreadable entries are left out', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-folder-listing-'));
  try {
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'b.img'), Buffer.alloc(1234));
    fs.writeFileSync(path.join(dir, 'a.img.xz'), 'x');
    fs.writeFileSync(path.join(dir, '.hidden'), 'x');
    fs.writeFileSync(path.join(dir, 'secret.img'), 'x');
    fs.chmodSync(path.join(dir, 'secret.img'), 0o600);
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, 'b.img'), 0o644);
    fs.chmodSync(path.join(dir, 'a.img.xz'), 0o644);
    fs.symlinkSync('/nonexistent-target', path.join(dir, 'dangling'));
    // Another user (not the files' owner, not their group) sees only what "others" may read.
    const stranger = { uid: 54321, gid: 54321 };
    const listing = listFolder(dir, stranger);
    assert.equal(listing.path, fs.realpathSync(dir));
    assert.equal(listing.parent, path.dirname(fs.realpathSync(dir)));
    assert.deepEqual(listing.entries, [
      { name: 'sub', folder: true, size: null },
      { name: 'a.img.xz', folder: false, size: 1 },
      { name: 'b.img', folder: false, size: 1234 },
    ]);
    assert.ok(listFolder(dir, { uid: null, gid: null }).entries.some((e) => e.name === 'secret.img'), 'root without sudo reads everything');
    assert.throws(() => listFolder(path.join(dir, 'b.img'), stranger), /not a folder/);
    assert.throws(() => listFolder(path.join(dir, 'nope'), stranger), /does not exist/);
    fs.chmodSync(path.join(dir, 'sub'), 0o700);
    assert.throws(() => listFolder(path.join(dir, 'sub'), stranger), /may not open/);
    assert.equal(listFolder('/', stranger).parent, null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('under sudo the file browser reads as the user who ran sudo; root alone reads all', () => {
  assert.deepEqual(readerOf({ SUDO_UID: '1000', SUDO_GID: '1000' }, 0), { uid: 1000, gid: 1000 });
  assert.deepEqual(readerOf({}, 0), { uid: null, gid: null });
});
