import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { fixtureDir } from '../../testing/image-fixtures';
import { runTool } from '../../testing/run-tool';
import { volumeFromFd } from '../volume';
import { ntfsDriver } from './ntfs-driver';
import { makeNtfs, mapOf, MiB, ntfsinfoRuns, patchRecord, recordOffset, usedBlocks, withNtfsMount } from './ntfs-test-volume';

/**
 * A $LogFile restart page (logfile.h: RESTART_PAGE_HEADER, RESTART_AREA, one
 * LOG_CLIENT_RECORD) as Windows leaves it, update sequence applied. No tool
 * here writes one (mkntfs and ntfs-3g leave the log wiped to 0xFF), so the
 * test makes it, consistent enough that ntfs-3g itself judges it.
 */
function restartPage(lsn: bigint, clientInUse: number, flags: number, logSize: number): Buffer {
  const page = Buffer.alloc(4096);
  page.write('RSTR', 0, 'latin1');
  page.writeUInt16LE(0x1e, 4); // update sequence array offset
  page.writeUInt16LE(9, 6); // 1 + 4096/512 entries
  page.writeUInt32LE(4096, 0x10); // system page size
  page.writeUInt32LE(4096, 0x14); // log page size
  page.writeUInt16LE(0x30, 0x18); // restart area offset
  page.writeInt16LE(1, 0x1a); // version 1.1
  page.writeInt16LE(1, 0x1c);
  const ra = 0x30;
  page.writeBigUInt64LE(lsn, ra); // current LSN
  page.writeUInt16LE(1, ra + 0x08); // log clients
  page.writeUInt16LE(0xffff, ra + 0x0a); // client free list: none
  page.writeUInt16LE(clientInUse, ra + 0x0c);
  page.writeUInt16LE(flags, ra + 0x0e);
  page.writeUInt32LE(67 - Math.ceil(Math.log2(logSize + 1)), ra + 0x10); // sequence number bits
  page.writeUInt16LE(0x30 + 0xa0, ra + 0x14); // restart area length: header + one client record
  page.writeUInt16LE(0x30, ra + 0x16); // client array offset
  page.writeBigInt64LE(BigInt(logSize), ra + 0x18);
  page.writeUInt16LE(0x30, ra + 0x24); // log record header length
  page.writeUInt16LE(0x40, ra + 0x26); // log page data offset
  page.writeUInt16LE(0xffff, ra + 0x30 + 0x10); // client 0: no previous
  page.writeUInt16LE(0xffff, ra + 0x30 + 0x12); // nor next
  const usn = 7;
  page.writeUInt16LE(usn, 0x1e);
  for (let i = 0; i < 8; i++) {
    page.writeUInt16LE(page.readUInt16LE(i * 512 + 510), 0x20 + i * 2);
    page.writeUInt16LE(usn, i * 512 + 510);
  }
  return page;
}

/** The NTFS allocation map falls back to `whole`, with a reason, when the volume cannot be trusted. */

describe('NTFS allocation map refuses what it cannot trust', () => {
  let base = '';
  before(async () => {
    base = path.join(fixtureDir(), 'damage-base.img');
    await makeNtfs(base, { sizeMiB: 32, clusterSize: 4096 });
    await withNtfsMount(base, false, async (dir) => fs.writeFileSync(path.join(dir, 'x.txt'), 'x'));
  });
  const copy = (name: string) => {
    const p = path.join(fixtureDir(), name);
    fs.copyFileSync(base, p);
    return p;
  };

  test('a clean volume maps, and detect() knows it', async () => {
    usedBlocks(await mapOf(base));
    const head = fs.readFileSync(base).subarray(0, 72 * 1024);
    assert.equal(ntfsDriver.detect(head), true);
    assert.equal(ntfsDriver.detect(Buffer.alloc(4096)), false);
  });

  test('a damaged boot sector', async () => {
    const p = copy('bad-boot.img');
    const fd = fs.openSync(p, 'r+');
    fs.writeSync(fd, Buffer.from([0]), 0, 1, 0x0b + 1); // bytes per sector 512 -> 0
    fs.closeSync(fd);
    const m = await mapOf(p);
    assert.equal(m.kind, 'whole');
    assert.match((m as { reason: string }).reason, /sector size/);
  });

  test('a filesystem larger than its volume', async () => {
    const m = await mapOf(base, fs.statSync(base).size - MiB);
    assert.equal(m.kind, 'whole');
    assert.match((m as { reason: string }).reason, /claims \d+ bytes but the volume holds only/);
  });

  test('a volume marked dirty', async () => {
    const p = copy('dirty.img');
    patchRecord(p, 3, (rec, set) => {
      let pos = rec.readUInt16LE(0x14);
      while (rec.readUInt32LE(pos) !== 0x70) pos += rec.readUInt32LE(pos + 4);
      const flagsAt = pos + rec.readUInt16LE(pos + 0x14) + 0x0a;
      set(flagsAt, (rec[flagsAt] as number) | 0x01);
    });
    // ntfs-3g's own tools see the patch as the dirty flag (they refuse the volume without -f).
    await assert.rejects(runTool('ntfsinfo', ['-m', p]), /scheduled for check/);
    assert.match((await runTool('ntfsinfo', ['-f', '-m', p])).stdout, /Volume Flags: 0x0001/);
    assert.deepEqual(await mapOf(p), { kind: 'whole', filesystem: 'ntfs', reason: 'NTFS volume is marked dirty (not cleanly unmounted)' });
  });

  test('a torn $Bitmap record (its update sequence does not match)', async () => {
    const p = copy('torn.img');
    patchRecord(p, 6, (rec) => {
      rec[1022] = (rec[1022] as number) ^ 0xff; // the second sector's tail, without fixing the array
    });
    const m = await mapOf(p);
    assert.equal(m.kind, 'whole');
    assert.match((m as { reason: string }).reason, /MFT record 6 is damaged: torn write/);
  });

  test('a bitmap that does not mark the MFT', async () => {
    const p = copy('bitmap.img');
    const { offset } = recordOffset(p, 0);
    const mftCluster = offset / 4096;
    // Find $Bitmap's data through ntfsinfo (independent of the reader under test).
    const info = (await runTool('ntfsinfo', ['-v', '-i', '6', p])).stdout;
    const runs = /Runlist:[^\n]*\n\s+0x0\s+0x([0-9a-f]+)/.exec(info);
    assert.ok(runs, info);
    const fd = fs.openSync(p, 'r+');
    const at = parseInt(runs[1] as string, 16) * 4096 + Math.floor(mftCluster / 8);
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = (b[0] as number) & ~(1 << mftCluster % 8);
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    const m = await mapOf(p);
    assert.equal(m.kind, 'whole');
    assert.match((m as { reason: string }).reason, /bitmap is damaged/);
  });

  test('Windows hibernated on the volume (hiberfil.sys says hibr), not once resumed (wake)', async () => {
    const p = copy('hiber.img');
    const header = (magic: string) => Buffer.concat([Buffer.from(magic), Buffer.alloc(8188)]);
    await withNtfsMount(p, false, async (dir) => fs.writeFileSync(path.join(dir, 'hiberfil.sys'), header('wake')));
    usedBlocks(await mapOf(p));
    // Last: ntfs-3g refuses to mount a hibernated volume read-write.
    await withNtfsMount(p, false, async (dir) => fs.writeFileSync(path.join(dir, 'hiberfil.sys'), header('hibr')));
    const m = await mapOf(p);
    assert.equal(m.kind, 'whole');
    assert.match((m as { reason: string }).reason, /Windows is hibernated/);
    const fd = fs.openSync(p, 'r');
    try {
      const view = await ntfsDriver.open!(volumeFromFd(fd, 0, fs.fstatSync(fd).size));
      assert.ok(view.warnings.some((w) => /Windows is hibernated.*recent changes may be missing/.test(w)), view.warnings.join('\n'));
    } finally {
      fs.closeSync(fd);
    }
  });

  test('a journal with changes not yet applied ($LogFile restart area open, not clean), as ntfs-3g judges it', async () => {
    const runs = await ntfsinfoRuns(base, 2);
    const logSize = runs.reduce((n, r) => n + r.length, 0) * 4096;
    const cases: Array<[string, Buffer[], boolean]> = [
      ['open, later LSN', [restartPage(100n, 0, 0, logSize), restartPage(90n, 0xffff, 2, logSize)], true],
      ['clean, later LSN', [restartPage(100n, 0, 0, logSize), restartPage(110n, 0xffff, 2, logSize)], false],
      ['no client in use', [restartPage(100n, 0xffff, 0, logSize), restartPage(90n, 0xffff, 0, logSize)], false],
    ];
    for (const [name, pages, unclean] of cases) {
      const p = copy('logfile.img');
      const fd = fs.openSync(p, 'r+');
      pages.forEach((pg, i) => fs.writeSync(fd, pg, 0, pg.length, (runs[0]?.lcn ?? 0) * 4096 + i * 4096));
      fs.closeSync(fd);
      const m = await mapOf(p);
      // ntfs-3g's verdict on the same pages (it then resets the log, so this comes second).
      // Read once ntfs-3g has exited: its messages may still be in the pipe when the mount appears.
      const log = (await withNtfsMount(p, false, async (_dir, output) => output))();
      // Pages ntfs-3g found inconsistent would also be "not safely closed": clean cases prove the pages are valid.
      assert.equal(/wasn't safely closed/.test(log), unclean, `${name}: ntfs-3g said ${log}`);
      assert.equal(/unclean file system/.test(log), unclean, `${name}: ntfs-3g said ${log}`);
      assert.equal(m.kind, unclean ? 'whole' : 'used-blocks', name);
      if (m.kind === 'whole') assert.match(m.reason, /journal \(\$LogFile\) has changes not yet applied/);
    }
  });
});
