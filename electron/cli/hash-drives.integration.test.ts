import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Drive } from '../../shared/drive';
import { IMAGE_FORMS, MiB, SMALL_IMAGE_SIZE, pseudoRandom, sha256Of, smallImageIn } from '../engine/testing/image-fixtures';
import { withLoopDevice, withLoopDevices, type LoopDevice } from '../engine/testing/loop-device';
import { describe, runCli } from './testing/run-cli';

/**
 * `imprint hash` against the coreutils and xxhash tools, and `imprint drives`
 * against loop devices the test attached.
 */

/** The digest printed by a coreutils-style tool (`HEX  FILE`), or xxhsum's BSD style (`XXH3 (FILE) = HEX`). */
function toolDigest(cmd: string, args: string[], file: string): string {
  const out = execFileSync(cmd, [...args, file], { encoding: 'utf8' }).trim();
  const bsd = / = ([0-9a-f]+)$/.exec(out);
  return bsd?.[1] ?? (out.split(/\s+/)[0] as string);
}

function hasTool(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** XXH3-64 of a file: `xxhsum -H3` when installed, else hash-wasm directly (another implementation than the engine's stream). */
async function xxh3Of(file: string): Promise<string> {
  if (hasTool('xxhsum')) return toolDigest('xxhsum', ['-H3'], file);
  const { xxhash3 } = await import('hash-wasm');
  return xxhash3(fs.readFileSync(file));
}

test('hash prints the SHA-256 of the uncompressed content, whatever the format', async (t) => {
  const expected = toolDigest('sha256sum', [], smallImageIn('raw'));
  for (const form of IMAGE_FORMS) {
    await t.test(form, async () => {
      const file = smallImageIn(form);
      const r = await runCli(['hash', file]);
      assert.equal(r.code, 0, describe(r));
      assert.equal(r.stdout, `${expected}  ${file}\n`);
      if (form !== 'raw') assert.notEqual(sha256Of(file), expected, 'the file itself was hashed, not its content');
    });
  }
});

test('hash --algo md5, sha1 and xxh3 agree with md5sum, sha1sum and xxhsum', async (t) => {
  const raw = smallImageIn('raw');
  const expected = { md5: toolDigest('md5sum', [], raw), sha1: toolDigest('sha1sum', [], raw), xxh3: await xxh3Of(raw) };
  if (!hasTool('xxhsum')) t.diagnostic('xxhsum is not installed: XXH3 is compared with hash-wasm');
  for (const form of ['raw', 'zst', 'gz'] as const) {
    for (const [algo, digest] of Object.entries(expected)) {
      await t.test(`${form} ${algo}`, async () => {
        const r = await runCli(['hash', smallImageIn(form), '--algo', algo, '--json']);
        assert.equal(r.code, 0, describe(r));
        assert.equal(r.finished?.ok, true);
        assert.equal(r.finished.digests?.[algo as 'md5'], digest);
        assert.equal(r.finished.bytes, SMALL_IMAGE_SIZE);
      });
    }
  }
  const bad = await runCli(['hash', raw, '--algo', 'crc32', '--json']);
  assert.equal(bad.code, 2, describe(bad));
  assert.equal(bad.error?.code, 'E_BAD_ARGUMENTS');
});

test('hash of a drive: its first --size bytes, or all of it', async () => {
  const size = 20 * MiB;
  const content = pseudoRandom(size, 'hashed drive');
  await withLoopDevice(
    size,
    async (loop) => {
      const sha = (b: Buffer): string => sha256Of(b);
      // An odd size: not a multiple of the sector or of the engine's chunk.
      for (const n of [5 * MiB + 1000, 4 * MiB, 1]) {
        const r = await runCli(['hash', loop.device, '--size', String(n)]);
        assert.equal(r.code, 0, describe(r));
        assert.equal(r.stdout, `${sha(content.subarray(0, n))}  ${loop.device}\n`, `--size ${n}`);
      }
      const whole = await runCli(['hash', loop.device, '--algo', 'md5', '--json']);
      assert.equal(whole.code, 0, describe(whole));
      assert.equal(whole.finished?.digests?.md5, sha256Of(content, 'md5'));
      assert.equal(whole.finished.bytes, size);
      const tooBig = await runCli(['hash', loop.device, '--size', String(size + 512), '--json']);
      assert.equal(tooBig.code, 2, describe(tooBig));
      assert.equal(tooBig.error?.code, 'E_BAD_ARGUMENTS');
      const zero = await runCli(['hash', loop.device, '--size', '0', '--json']);
      assert.equal(zero.code, 2, describe(zero));
    },
    { content },
  );
});

test('drives --all lists the loop devices a test attached; drives alone hides them and says so', async () => {
  await withLoopDevices(
    [{ size: 24 * MiB }, { size: 8 * MiB, opts: { readOnly: true } }],
    async ([rw, ro]) => {
      const [a, b] = [rw, ro] as [LoopDevice, LoopDevice];
      const all = await runCli(['drives', '--all', '--json']);
      assert.equal(all.code, 0, describe(all));
      const listed = (JSON.parse(all.stdout) as { drives: Drive[] }).drives;
      const find = (dev: string): Drive | undefined => listed.find((d) => d.device === dev);
      assert.deepEqual(
        [find(a.device), find(b.device)].map((d) => d && { size: d.size, virtual: d.virtual, bus: d.bus, readOnly: d.readOnly, system: d.system, removable: d.removable }),
        [
          { size: 24 * MiB, virtual: true, bus: 'loop', readOnly: false, system: false, removable: false },
          { size: 8 * MiB, virtual: true, bus: 'loop', readOnly: true, system: false, removable: false },
        ],
        `loop devices missing or wrong in ${all.stdout}`,
      );
      assert.match(find(a.device)?.description ?? '', new RegExp(a.backingFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

      const shown = await runCli(['drives', '--json']);
      assert.equal(shown.code, 0, describe(shown));
      const def = JSON.parse(shown.stdout) as { drives: Drive[]; hidden: number };
      assert.ok(!def.drives.some((d) => d.virtual || d.system), `hidden kinds shown: ${shown.stdout}`);
      assert.ok(def.hidden >= 2, `hidden: ${def.hidden}`);

      const human = await runCli(['drives']);
      assert.equal(human.code, 0, describe(human));
      assert.ok(!human.stdout.includes(a.device), human.stdout);
      const m = /(\d+) system drives? or loop devices? hidden; --all lists them/.exec(human.stderr);
      assert.ok(m, `no hidden count in: ${human.stderr}`);
      assert.ok(Number(m[1]) >= 2);
      const humanAll = await runCli(['drives', '--all']);
      assert.match(humanAll.stdout, new RegExp(`${a.device} .*\\[loop\\].*virtual`));
      assert.match(humanAll.stdout, new RegExp(`${b.device} .*read-only`));
    },
  );
});
