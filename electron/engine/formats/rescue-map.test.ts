import { spawnSync } from 'child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, it } from 'node:test';
import { ImprintError } from '../errors';
import { BLOCK_STATUSES, RescueMap, formatMapfile, parseMapfile, readMapfile, writeFileAtomic, type BlockStatus } from './rescue-map';

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SECTOR = 512;

/** A map with random statuses over `sectors` sectors, and the same thing as a per-sector array. */
function randomMap(seed: number, sectors: number, operations: number): { map: RescueMap; model: BlockStatus[] } {
  const rnd = prng(seed);
  const map = new RescueMap(sectors * SECTOR);
  const model: BlockStatus[] = new Array<BlockStatus>(sectors).fill('?');
  for (let i = 0; i < operations; i++) {
    const a = Math.floor(rnd() * sectors);
    const n = 1 + Math.floor(rnd() * Math.min(64, sectors - a));
    const st = BLOCK_STATUSES[Math.floor(rnd() * BLOCK_STATUSES.length)] as BlockStatus;
    map.set(a * SECTOR, n * SECTOR, st);
    model.fill(st, a, a + n);
  }
  return { map, model };
}

function sectorsOf(map: RescueMap, status: BlockStatus): number[] {
  const out: number[] = [];
  for (const b of map.blocks) if (b.status === status) for (let s = b.pos / SECTOR; s < (b.pos + b.size) / SECTOR; s++) out.push(s);
  return out;
}

const HEADING = { commandLine: 'imprint rescue /dev/test out.img', startTime: new Date(2024, 0, 2, 3, 4, 5), version: 'test' };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-rescue-map-'));
}

describe('RescueMap', () => {
  it('matches a per-sector model after random changes, with no gaps and no equal neighbours', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { map, model } = randomMap(seed, 300, 60);
      let at = 0;
      for (const [i, b] of map.blocks.entries()) {
        assert.equal(b.pos, at, `seed ${seed}: block ${i} starts at ${b.pos}, expected ${at}`);
        assert.ok(b.size > 0);
        if (i > 0) assert.notEqual(map.blocks[i - 1]?.status, b.status, `seed ${seed}: equal neighbours at ${b.pos}`);
        for (let s = b.pos / SECTOR; s < (b.pos + b.size) / SECTOR; s++) assert.equal(model[s], b.status, `seed ${seed}: sector ${s}`);
        at += b.size;
      }
      assert.equal(at, map.size);
      const totals = map.totals();
      for (const st of BLOCK_STATUSES) assert.equal(totals[st], model.filter((m) => m === st).length * SECTOR);
    }
  });

  it('fills gaps and a short tail of a parsed map with non-tried, and refuses a map larger than the device', () => {
    const content = parseMapfile('0 + 1\n0x0 0x400 +\n0x400 0x200 -\n');
    const map = RescueMap.fromContent(content, 4096);
    assert.deepEqual(map.blocks, [
      { pos: 0, size: 0x400, status: '+' },
      { pos: 0x400, size: 0x200, status: '-' },
      { pos: 0x600, size: 4096 - 0x600, status: '?' },
    ]);
    assert.throws(() => RescueMap.fromContent(content, 1024), (e: unknown) => e instanceof ImprintError && e.code === 'E_BAD_ARGUMENTS');
  });
});

describe('mapfile text', () => {
  it('round-trips through format and parse', () => {
    const { map } = randomMap(7, 2000, 200);
    map.currentPos = 0x12345 * SECTOR;
    map.currentStatus = '/';
    map.currentPass = 1;
    const parsed = parseMapfile(formatMapfile(map, HEADING));
    assert.deepEqual(parsed.blocks, map.blocks);
    assert.equal(parsed.currentPos, map.currentPos);
    assert.equal(parsed.currentStatus, '/');
    assert.equal(parsed.currentPass, 1);
  });

  it("reads what ddrescue's manual allows: comments, decimal and octal numbers, a status line without a pass", () => {
    const text = [
      '# Mapfile. Created by GNU ddrescue version 1.27',
      '# current_pos  current_status',
      '  0x00120000     ?   # trailing comment',
      '#      pos        size  status',
      '0  1024  +',
      '02000 0x200 -', // octal 02000 = 1024
      '1536\t512\t*',
      '',
    ].join('\n');
    const parsed = parseMapfile(text);
    assert.equal(parsed.currentPos, 0x120000);
    assert.equal(parsed.currentStatus, '?');
    assert.equal(parsed.currentPass, 1);
    assert.deepEqual(parsed.blocks, [
      { pos: 0, size: 1024, status: '+' },
      { pos: 1024, size: 512, status: '-' },
      { pos: 1536, size: 512, status: '*' },
    ]);
  });

  for (const [name, text] of [
    ['no status line', '# only comments\n'],
    ['a gap between blocks', '0 + 1\n0 512 +\n1024 512 -\n'],
    ['an unknown block status', '0 + 1\n0 512 x\n'],
    ['a number that is not one', '0 + 1\n0 12ab +\n'],
    ['a pass that is not decimal', '0 + 0x1\n'],
  ] as const) {
    it(`refuses a mapfile with ${name}`, () => {
      assert.throws(() => parseMapfile(text), (e: unknown) => e instanceof ImprintError && e.code === 'E_BAD_ARGUMENTS');
    });
  }

  it('writes atomically: the new content replaces the old, no temp file is left, and an empty file reads as no map', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'x.map');
      assert.equal(readMapfile(file), null);
      fs.writeFileSync(file, '');
      assert.equal(readMapfile(file), null);
      const { map } = randomMap(3, 100, 20);
      writeFileAtomic(file, formatMapfile(map, HEADING));
      writeFileAtomic(file, formatMapfile(map, HEADING));
      assert.deepEqual(readMapfile(file)?.blocks, map.blocks);
      assert.deepEqual(fs.readdirSync(dir), ['x.map']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("GNU ddrescuelog reads our mapfiles", () => {
  const have = spawnSync('ddrescuelog', ['--version'], { stdio: 'ignore' }).status === 0;
  const skip = have ? false : 'ddrescuelog not installed (Debian package gddrescue)';
  if (skip) console.log(`# skipping ddrescuelog tests: ${skip}`);

  const ddrescuelog = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('ddrescuelog', args, { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  for (const seed of [11, 12, 13]) {
    it(`lists the same sectors of each status, and the same area counts (seed ${seed})`, { skip }, () => {
      const dir = tempDir();
      try {
        const { map } = randomMap(seed, 4000, 150);
        map.currentPos = 8 * SECTOR;
        map.currentStatus = '*';
        const file = path.join(dir, 'seed.map');
        writeFileAtomic(file, formatMapfile(map, HEADING));
        for (const st of BLOCK_STATUSES) {
          const r = ddrescuelog(`--list-blocks=${st}`, `--block-size=${SECTOR}`, file);
          assert.equal(r.status, 0, r.stderr);
          const listed = r.stdout.split('\n').filter(Boolean).map(Number);
          assert.deepEqual(listed, sectorsOf(map, st), `status ${st}`);
        }
        // -t counts areas ("in N area(s)") exactly; byte totals it prints rounded, so those come from the lists above.
        const t = ddrescuelog('-t', file);
        assert.equal(t.status, 0, t.stderr);
        const names: Record<BlockStatus, string> = { '?': 'non-tried', '+': 'rescued', '*': 'non-trimmed', '/': 'non-scraped', '-': 'bad-sector' };
        for (const st of BLOCK_STATUSES) {
          const line = t.stdout.split('\n').find((l) => l.trim().startsWith(`${names[st]}:`));
          const m = /in\s+(\d+) area/.exec(line ?? '');
          assert.ok(m, `no ${names[st]} line in ddrescuelog -t output:\n${t.stdout}`);
          assert.equal(Number(m[1]), map.blocks.filter((b) => b.status === st).length, names[st]);
        }
        assert.match(t.stdout, /current status: trimming/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('agrees on whether the rescue is done (ddrescuelog -D)', { skip }, () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'done.map');
      const map = new RescueMap(64 * SECTOR);
      map.set(0, 64 * SECTOR, '+');
      map.currentStatus = '+';
      writeFileAtomic(file, formatMapfile(map, HEADING));
      assert.equal(ddrescuelog('-D', file).status, 0);
      map.set(5 * SECTOR, SECTOR, '-');
      writeFileAtomic(file, formatMapfile(map, HEADING));
      assert.notEqual(ddrescuelog('-D', file).status, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
