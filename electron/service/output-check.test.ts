import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sidecarPathOf } from '../../shared/backup-metadata';
import { checkBackupOutput } from './output-check';

test('a backup destination: free, taken (by the file or its metadata file), in a missing folder, or a folder itself', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-output-check-'));
  try {
    const free = path.join(dir, 'new.img.zst');
    assert.deepEqual(checkBackupOutput(free), { folderExists: true, exists: false, notAFile: false });
    fs.writeFileSync(free, 'x');
    assert.deepEqual(checkBackupOutput(free), { folderExists: true, exists: true, notAFile: false });
    const lone = path.join(dir, 'lone.img.gz');
    fs.writeFileSync(sidecarPathOf(lone), '{}');
    assert.equal(checkBackupOutput(lone).exists, true, 'a metadata file left beside the name counts');
    assert.deepEqual(checkBackupOutput(path.join(dir, 'missing', 'b.img')), { folderExists: false, exists: false, notAFile: false });
    assert.deepEqual(checkBackupOutput(dir), { folderExists: true, exists: false, notAFile: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
