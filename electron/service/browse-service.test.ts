import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { JobEvent } from '../../shared/job-events';
import { validateRequest } from '../../shared/ipc-schemas';
import { tempDir } from '../engine/testing/test-drives';
import { SLOW_TOOL_MS, runTool } from '../engine/testing/run-tool';
import { ImprintService } from './imprint-service';

/**
 * The service's "Browse files" calls on an ISO made by genisoimage: the
 * partitions, a folder, and an extraction whose progress and end arrive as
 * job events; requests the schemas refuse, and a path that does not exist
 * refused before the job starts. The e2e spec drives the same through the UI.
 */

const t = tempDir('browse-service');
let iso = '';
const service = new ImprintService({ listDrives: async () => [], drivePollMs: 60_000 });

before(async () => {
  const tree = path.join(t.dir, 'tree');
  fs.mkdirSync(path.join(tree, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'docs', 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(tree, 'b.bin'), Buffer.alloc(70_000, 7));
  iso = path.join(t.dir, 'x.iso');
  await runTool('genisoimage', ['-quiet', '-R', '-J', '-V', 'SVC', '-o', iso, tree], SLOW_TOOL_MS);
});

after(async () => {
  await service.dispose();
  t.remove();
});

test('partitions and a folder of an ISO, as the tree shows them', async () => {
  const parts = await service.call('browsePartitions', { source: iso });
  assert.ok(parts.ok);
  assert.deepEqual(parts.value.map((p) => [p.number, p.filesystem, p.label, p.problem]), [[1, 'iso9660', 'SVC', null]]);
  const root = await service.call('browseFolder', { source: iso, where: '1:/' });
  assert.ok(root.ok);
  assert.deepEqual(root.value.entries.map((e) => [e.name, e.kind, e.size]).sort(), [['b.bin', 'file', 70_000], ['docs', 'directory', 0]]);
  const missing = await service.call('browseFolder', { source: iso, where: '1:/nope' });
  assert.ok(!missing.ok);
  assert.match(missing.error.message, /1:\/nope does not exist/);
});

test('an extraction is a job: started, progress, finished with what it copied; the bytes match', async () => {
  const events: JobEvent[] = [];
  const off = service.subscribe((e) => (e.event === 'onJobEvent' ? events.push(e.payload) : undefined));
  const dest = path.join(t.dir, 'out');
  const started = await service.call('startExtract', { source: iso, items: ['1:/docs', '1:/b.bin'], dest });
  assert.ok(started.ok);
  await service.jobDone(started.value.jobId);
  off();
  const mine = events.filter((e) => e.jobId === started.value.jobId);
  assert.deepEqual([mine[0]?.type, mine.at(-1)?.type], ['job-started', 'job-finished']);
  assert.ok(mine.some((e) => e.type === 'progress'));
  const end = mine.at(-1);
  assert.ok(end?.type === 'job-finished' && end.ok);
  assert.deepEqual(end.details && { ...end.details }, { kind: 'extract', dest, files: 2, folders: 1, symlinks: 0, bytes: 70_006, problems: [], problemCount: 0 });
  assert.equal(fs.readFileSync(path.join(dest, 'docs', 'a.txt'), 'utf8'), 'alpha\n');
  assert.ok(fs.readFileSync(path.join(dest, 'b.bin')).equals(Buffer.alloc(70_000, 7)));
});

test('a path that does not exist is refused before anything is written; malformed places never reach the service', async () => {
  const dest = path.join(t.dir, 'never');
  const r = await service.call('startExtract', { source: iso, items: ['1:/docs', '1:/gone'], dest });
  assert.ok(!r.ok);
  assert.match(r.error.message, /1:\/gone does not exist/);
  assert.equal(fs.existsSync(dest), false);
  for (const bad of [{ source: iso, where: 'docs' }, { source: iso, where: '1:docs' }, { source: 'x.iso', where: '1:/' }]) {
    assert.equal(validateRequest('browseFolder', bad).ok, false, JSON.stringify(bad));
  }
  assert.equal(validateRequest('startExtract', { source: iso, items: [], dest }).ok, false, 'nothing to extract');
});
