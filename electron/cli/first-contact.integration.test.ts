import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MiB, makeFile, pseudoRandom } from '../engine/testing/image-fixtures';
import { withLoopDevice } from '../engine/testing/loop-device';
import { describe, runCli, type CliResult } from './testing/run-cli';

/**
 * The command line as a new user meets it: typos get a suggestion, a missing
 * argument is named, verify of another image says so once, a mount that is
 * taken down is reported, and progress written to a log (not a terminal:
 * these runs pipe stderr) shows real rates, under names that say what each
 * phase does.
 */

const IMAGE_SIZE = 8 * MiB;
const LOOP_SIZE = 16 * MiB;
const image = (): string => makeFile('first-contact.img', pseudoRandom(IMAGE_SIZE, 'first-contact'));
const all = (r: CliResult): string => r.stdout + r.stderr;

/** Node's own parseArgs wording, which must not reach the user. */
function noParserText(r: CliResult): void {
  assert.doesNotMatch(all(r), /To specify a positional|Unknown option '|argument missing/, describe(r));
}

test('a mistyped option or command gets the nearest real one, with exit code 2', async () => {
  const img = image();
  const option = await runCli(['flash', img, '/dev/null', '--yse']);
  assert.equal(option.code, 2, describe(option));
  assert.match(option.stderr, /unknown option --yse; did you mean --yes\?/);
  noParserText(option);

  const backupOption = await runCli(['backup', '/dev/null', 'out.zst', '--compres', 'xz']);
  assert.equal(backupOption.code, 2, describe(backupOption));
  assert.match(backupOption.stderr, /unknown option --compres; did you mean --compress\?/);

  const command = await runCli(['flsh', img, '/dev/null']);
  assert.equal(command.code, 2, describe(command));
  assert.match(command.stderr, /unknown command flsh; did you mean flash\?/);

  const noGuess = await runCli(['flash', img, '/dev/null', '--zzzzzz']);
  assert.equal(noGuess.code, 2);
  assert.match(noGuess.stderr, /unknown option --zzzzzz\. See imprint flash --help/);
  noParserText(noGuess);
});

test('a missing argument is named, and so is a missing option value', async () => {
  const img = image();
  const cases: [string[], RegExp][] = [
    [['flash', img], /imprint flash: missing TARGET\. Usage: imprint flash IMAGE TARGET\.\.\./],
    [['verify'], /imprint verify: missing IMAGE\./],
    [['verify', img], /imprint verify: missing TARGET\./],
    [['backup', '/dev/null'], /imprint backup: missing OUTPUT\./],
    [['hash', img, 'extra'], /imprint hash: unexpected argument extra\./],
    [['flash', img, '/dev/null', '--sha256'], /imprint flash: option --sha256 needs a value\./],
  ];
  for (const [args, expected] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, describe(r));
    assert.match(r.stderr, expected, describe(r));
    noParserText(r);
  }
});

test('verify: a drive holding another image is told apart, once, at the first differing byte; a match says verified', async () => {
  const data = pseudoRandom(IMAGE_SIZE, 'first-contact');
  const img = makeFile('first-contact.img', data);
  const other = Buffer.from(data);
  const differsAt = 5 * MiB + 123;
  other[differsAt] = (other[differsAt] as number) ^ 0x5a;
  other[differsAt + 1000] = (other[differsAt + 1000] as number) ^ 0x5a;
  const otherImg = makeFile('first-contact-other.img', other);

  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const flashed = await runCli(['flash', img, loop.device, '--yes']);
    assert.equal(flashed.code, 0, describe(flashed));

    const wrong = await runCli(['verify', otherImg, loop.device]);
    assert.equal(wrong.code, 1, describe(wrong));
    assert.match(wrong.stdout, new RegExp(`^${loop.device}: FAILED - ${loop.device} does not hold this image: the first differing byte is at offset ${differsAt} \\(`, 'm'));
    assert.equal(all(wrong).split('does not hold').length - 1, 1, `the failure is printed once:\n${describe(wrong)}`);
    assert.doesNotMatch(all(wrong), /counterfeit|failing/);

    const right = await runCli(['verify', img, loop.device]);
    assert.equal(right.code, 0, describe(right));
    assert.match(right.stdout, new RegExp(`^${loop.device}: verified: it holds this image$`, 'm'));
    assert.doesNotMatch(all(right), /written/);
  });
});

test('flash --yes and check --yes of a mounted drive say what they unmounted', async () => {
  const img = image();
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-mnt-'));
  const mounted = (): boolean => fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${mnt} `);
  try {
    await withLoopDevice(LOOP_SIZE, async (loop) => {
      for (const args of [['flash', img, loop.device, '--yes'], ['check', loop.device, '--yes']]) {
        execFileSync('mkfs.ext4', ['-q', '-F', loop.device]);
        execFileSync('mount', [loop.device, mnt]);
        try {
          const r = await runCli(args);
          assert.equal(r.code, 0, describe(r));
          assert.ok(r.stderr.includes(`Unmounted ${mnt} (${loop.device}) before writing.`), describe(r));
          assert.ok(!mounted(), 'it was unmounted');
        } finally {
          if (mounted()) execFileSync('umount', [mnt]);
        }
      }
    });
  } finally {
    fs.rmdirSync(mnt);
  }
});

/** Progress lines of a run whose stderr is a pipe: each phase's name, and no rate of 0. */
function progressOff(r: CliResult): string[] {
  assert.doesNotMatch(r.stderr, /\b0\.0 MB\/s/, describe(r));
  assert.doesNotMatch(r.stderr, /\r|\x1b\[/, 'no terminal control characters in a log');
  return r.stderr.split('\n').filter((l) => /MB\/s/.test(l));
}

test('progress off a terminal: a line per phase with its real rate, named for what it does', async () => {
  const img = image();
  await withLoopDevice(LOOP_SIZE, async (loop) => {
    const flash = await runCli(['flash', img, loop.device, '--yes']);
    assert.equal(flash.code, 0, describe(flash));
    const flashLines = progressOff(flash);
    // Verification overlaps the write: on a drive this fast, none may be left for a phase of its own.
    const flashPhases = flashLines.map((l) => l.split(/\s+/)[0]);
    assert.equal(flashPhases[0], 'writing', describe(flash));
    assert.ok(flashPhases.every((p) => p === 'writing' || p === 'verifying'), describe(flash));
    for (const l of flashLines) assert.match(l, /^\w+ +8\.39 MB in \d+\.\d s, \d+(\.\d)? MB\/s$/);

    const hash = await runCli(['hash', loop.device, '--size', String(IMAGE_SIZE)]);
    assert.equal(hash.code, 0, describe(hash));
    assert.deepEqual(progressOff(hash).map((l) => l.split(/\s+/)[0]), ['hashing']);
    assert.doesNotMatch(hash.stderr, /decompressing/);

    const verify = await runCli(['verify', img, loop.device]);
    assert.equal(verify.code, 0, describe(verify));
    assert.deepEqual(progressOff(verify).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['reading image', 'verifying 8.39'], describe(verify));

    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-backup-')), 'drive.zst');
    try {
      const backup = await runCli(['backup', loop.device, out, '--yes']);
      assert.equal(backup.code, 0, describe(backup));
      const phases = progressOff(backup).map((l) => l.split(/\s+/)[0]);
      assert.equal(phases[0], 'reading', describe(backup));
      assert.ok(!phases.includes('writing'), describe(backup));
    } finally {
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
    }
  });
});
