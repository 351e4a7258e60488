import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { unsafeNameReason } from './destination-names';

test('names that would leave the destination are refused on every platform', () => {
  for (const platform of ['linux', 'darwin', 'win32'] as const) {
    for (const name of ['', '.', '..', '../x', '../../x', '/etc/x', 'a/b', 'a\\b', '..\\x', 'C:\\x', 'nul\0byte']) {
      assert.ok(unsafeNameReason(name, platform), `${JSON.stringify(name)} on ${platform}`);
    }
    assert.equal(unsafeNameReason('notes.txt', platform), null);
    assert.equal(unsafeNameReason('Ünïcødé – ファイル名.txt', platform), null);
  }
});

test('names Windows cannot hold are refused there only, with the reason', () => {
  for (const name of ['a:b', 'what?', 'x*', 'pipe|', 'CON', 'con.txt', 'LPT1', 'trailing.', 'trailing ', 'tab\there']) {
    assert.ok(unsafeNameReason(name, 'win32'), `${name} on win32`);
    assert.equal(unsafeNameReason(name, 'linux'), null, `${name} on linux`);
  }
  assert.match(unsafeNameReason('a:b', 'win32')!, /":"/);
});

test('every name accepted on this platform stays one component inside the destination', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-names-'));
  try {
    const candidates = ['x', '..x', 'x..', '...', ' .', '. ', '~', '$HOME', 'a'.repeat(255), 'é'.repeat(128)];
    for (const name of candidates) {
      if (unsafeNameReason(name) !== null) continue;
      const p = path.join(root, name);
      assert.equal(path.dirname(p), root, name);
      fs.writeFileSync(p, 'x', { flag: 'wx' });
      assert.ok(fs.readdirSync(root).includes(name), name);
      fs.rmSync(p);
    }
    assert.ok(unsafeNameReason('é'.repeat(128), 'linux'), '256 bytes of UTF-8 is too long for Linux filesystems');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
