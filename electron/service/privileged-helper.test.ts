import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobEvent } from '../../shared/job-events';
import { OS_IMAGE_SIZE, imageIn, osImage } from '../engine/testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice } from '../engine/testing/loop-device';
import { LineSplitter, explainHelperFailure, flashCliArgs, helperArgv, parseHelperLine, runHelper, type HelperCommand } from './privileged-helper';
import { defaultCliScript } from './imprint-service';

const NOTE = 'pkexec itself is not exercised here (no polkit agent, and the tests run as root): its argv, its exit codes and the NDJSON relay are tested with stand-in elevators.';

test('the helper argv runs the CLI under Node directly, and under Electron through env ELECTRON_RUN_AS_NODE=1', (t) => {
  t.diagnostic(NOTE);
  const cli = ['flash', '--yes', '--json', '--', '/img; rm -rf /', '/dev/sdb'];
  assert.deepEqual(helperArgv({ elevator: 'pkexec', execPath: '/usr/bin/node', runAsNode: false, cliScript: '/opt/imprint/bin/imprint.js' }, cli), {
    program: 'pkexec',
    args: ['/usr/bin/node', '/opt/imprint/bin/imprint.js', ...cli],
  });
  assert.deepEqual(helperArgv({ elevator: 'pkexec', execPath: '/opt/Imprint/imprint', runAsNode: true, cliScript: '/opt/Imprint/resources/app.asar/bin/imprint.js' }, cli), {
    program: 'pkexec',
    args: ['/usr/bin/env', 'ELECTRON_RUN_AS_NODE=1', '/opt/Imprint/imprint', '/opt/Imprint/resources/app.asar/bin/imprint.js', ...cli],
  });
});

test('flash arguments: confirmed, JSON, cancellable through stdin, paths after "--"', () => {
  assert.deepEqual(flashCliArgs({ image: '/a b/os.img', targets: ['/dev/sdb', '/dev/sdc'], verify: true }), ['flash', '--yes', '--json', '--stdin-cancel', '--', '/a b/os.img', '/dev/sdb', '/dev/sdc']);
  assert.deepEqual(flashCliArgs({ image: '/os.img', targets: ['/dev/sdb'], verify: false }), ['flash', '--yes', '--json', '--stdin-cancel', '--no-verify', '--', '/os.img', '/dev/sdb']);
});

test('NDJSON is split into lines across chunk boundaries; CRLF and a last unterminated line are handled', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"a":'), []);
  assert.deepEqual(s.push('1}\n{"b":2}\r\n{"c"'), ['{"a":1}', '{"b":2}']);
  assert.deepEqual(s.push(':3}'), []);
  assert.deepEqual(s.end(), ['{"c":3}']);
  assert.deepEqual(s.end(), []);
});

test('an overlong line is dropped, the lines after it are kept', () => {
  const s = new LineSplitter(16);
  assert.deepEqual(s.push('x'.repeat(40)), []);
  assert.deepEqual(s.push('y'.repeat(10) + '\nok\n'), ['ok']);
});

test('helper lines: job events, the CLI error report, and anything else', () => {
  const progress = { type: 'progress', jobId: 'j1', phase: 'writing', bytesDone: 5, totalBytes: 10, bytesPerSecond: 1, etaSeconds: 5, targets: [] };
  assert.deepEqual(parseHelperLine(JSON.stringify(progress)), { kind: 'event', event: progress });
  assert.deepEqual(parseHelperLine('{"type":"error","error":{"code":"E_TARGET_TOO_SMALL","message":"too small"}}'), {
    kind: 'error',
    error: { code: 'E_TARGET_TOO_SMALL', message: 'too small' },
  });
  assert.deepEqual(parseHelperLine('{"type":"error","error":{"code":"E_MADE_UP","message":"x"}}'), { kind: 'invalid', problem: 'error report.error.code is not an error code Imprint knows' });
  assert.deepEqual(parseHelperLine('{"type":"progress"}'), { kind: 'invalid', problem: 'event.jobId is missing' }, 'an event without a job id');
  assert.equal(parseHelperLine('{"type":"rm -rf","jobId":"x"}').kind, 'other');
  assert.equal(parseHelperLine('not json').kind, 'other');
  assert.equal(parseHelperLine('[1,2]').kind, 'other');
});

test('elevation failures are explained in plain words', () => {
  const enoent = Object.assign(new Error('spawn pkexec ENOENT'), { code: 'ENOENT' });
  const missing = explainHelperFailure({ spawnError: enoent, code: null, signal: null, stderr: '' }, 'write /dev/sdb');
  assert.equal(missing.code, 'E_PERMISSION');
  assert.match(missing.message, /pkexec \(polkit\), which is not installed/);
  const dismissed = explainHelperFailure({ code: 126, signal: null, stderr: 'Error executing command as another user: Request dismissed' }, 'write /dev/sdb');
  assert.equal(dismissed.code, 'E_NOT_CONFIRMED');
  assert.match(dismissed.message, /rights to write \/dev\/sdb was dismissed, so nothing was done/);
  const noAgent = explainHelperFailure({ code: 127, signal: null, stderr: 'Error executing command as another user: No authentication agent found.\n' }, 'write /dev/sdb');
  assert.equal(noAgent.code, 'E_PERMISSION');
  assert.match(noAgent.message, /no polkit authentication agent is running/);
  const notAuthorized = explainHelperFailure({ code: 127, signal: null, stderr: 'Error executing command as another user: Not authorized\n' }, 'write /dev/sdb');
  assert.match(notAuthorized.message, /not authorized/);
  const crashed = explainHelperFailure({ code: 3, signal: null, stderr: 'line one\nSegmentation fault\n' }, 'write /dev/sdb');
  assert.equal(crashed.code, 'E_INTERNAL');
  assert.match(crashed.message, /exit 3.*Segmentation fault/);
});

test('malformed helper events are refused, each with the path to what is wrong', () => {
  const progress = { type: 'progress', jobId: 'j1', phase: 'writing', bytesDone: 5, totalBytes: 10, bytesPerSecond: 1, etaSeconds: 5, targets: [] };
  const problem = (line: string): string => {
    const parsed = parseHelperLine(line);
    assert.equal(parsed.kind, 'invalid', line);
    return parsed.kind === 'invalid' ? parsed.problem : '';
  };
  assert.match(problem(JSON.stringify({ ...progress, bytesDone: 'five' })), /^event\.bytesDone must be a number, not "five"$/, 'a field of the wrong type');
  assert.match(problem(JSON.stringify({ ...progress, phase: undefined })), /^event\.phase is missing$/, 'a missing field');
  assert.match(problem(JSON.stringify({ ...progress, command: 'rm -rf /' })), /^event has unknown field "command"$/, 'an extra field');
  assert.match(problem(JSON.stringify({ ...progress, bytesDone: 2 ** 64 })), /^event\.bytesDone must be at most 9007199254740991/, 'a count past exact integers');
  assert.match(problem(JSON.stringify(progress).replace('"bytesDone":5', '"bytesDone":1e999')), /^event\.bytesDone must be a finite number, not Infinity$/, 'a number JSON reads as Infinity');
  assert.match(problem(JSON.stringify({ ...progress, targets: [{ device: '/dev/sdb', status: 'writing', bytesWritten: -1, bytesVerified: 0 }] })), /^event\.targets\[0\]\.bytesWritten must be at least 0/);
  // NaN is not JSON: such a line is text, not an event.
  assert.equal(parseHelperLine(JSON.stringify(progress).replace('"bytesDone":5', '"bytesDone":NaN')).kind, 'other');
});

/** A stand-in for the elevator and the helper: prints `lines` on stdout, whatever it is asked to run, and exits 0. */
function fakeHelper(dir: string, name: string, lines: unknown[]): string {
  const out = path.join(dir, `${name}.ndjson`);
  fs.writeFileSync(out, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\ncat '${out}'\n`, { mode: 0o755 });
  return file;
}

test('a malformed event is never relayed: the app warns once, and without a valid result the job fails saying why', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-helper-'));
  try {
    const started = { type: 'job-started', jobId: 'theirs', kind: 'flash', source: '/img', targets: ['/dev/sdx'], totalBytes: 10 };
    const badStatus = { type: 'progress', jobId: 'theirs', phase: 'writing', bytesDone: 5, totalBytes: 10, bytesPerSecond: 1, etaSeconds: 5, targets: [{ device: '/dev/sdx', status: 'exploded', bytesWritten: 5, bytesVerified: 0 }] };
    const finished = { type: 'job-finished', jobId: 'theirs', ok: true, targets: [{ device: '/dev/sdx', status: 'written', bytesWritten: 10, bytesVerified: 0 }], bytes: 10 };
    const run = (elevator: string): Promise<{ result: JobEvent; events: JobEvent[] }> => {
      const events: JobEvent[] = [];
      return runHelper({ command: command(elevator), cliArgs: ['flash'], jobId: 'ours', targets: ['/dev/sdx'], action: 'write /dev/sdx', onEvent: (e) => events.push(e) }).then((result) => ({ result, events }));
    };

    const broken = await run(fakeHelper(dir, 'broken', [started, badStatus, { ...finished, sneaky: true }]));
    assert.deepEqual(broken.events.map((e) => e.type), ['job-started', 'warning', 'job-finished'], 'neither bad event relayed; one warning');
    const warning = broken.events[1];
    assert.match(warning?.type === 'warning' ? warning.message : '', /Ignored an event .*: event\.targets\[0\]\.status must be one of/);
    assert.equal(broken.result.type === 'job-finished' && broken.result.ok, false);
    assert.equal(broken.result.type === 'job-finished' ? broken.result.error?.code : null, 'E_INTERNAL');
    assert.match(broken.result.type === 'job-finished' ? (broken.result.error?.message ?? '') : '', /to write \/dev\/sdx\) sent an event Imprint does not accept \(event\.targets\[0\]\.status .*whether the job completed is unknown/);

    const recovered = await run(fakeHelper(dir, 'recovered', [started, badStatus, finished]));
    assert.deepEqual(recovered.events.map((e) => e.type), ['job-started', 'warning', 'job-finished']);
    assert.deepEqual(recovered.result, { ...finished, jobId: 'ours' }, 'a valid result stands');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A stand-in for pkexec: a shell script that prints `stderr` and exits with `code`, as pkexec does when it cannot elevate. */
function fakeElevator(dir: string, name: string, stderr: string, code: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${stderr}' >&2\nexit ${code}\n`, { mode: 0o755 });
  return file;
}

function command(elevator: string): HelperCommand {
  return { elevator, execPath: process.execPath, runAsNode: false, cliScript: defaultCliScript() };
}

test('when elevation fails the job ends with the explanation, for every target', async (t) => {
  t.diagnostic(NOTE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-elevator-'));
  try {
    const cases = [
      { elevator: fakeElevator(dir, 'no-agent', 'Error executing command as another user: No authentication agent found.', 127), code: 'E_PERMISSION', says: /no polkit authentication agent/ },
      { elevator: fakeElevator(dir, 'dismissed', 'Error executing command as another user: Request dismissed', 126), code: 'E_NOT_CONFIRMED', says: /dismissed/ },
      { elevator: path.join(dir, 'not-installed'), code: 'E_PERMISSION', says: /not installed/ },
    ];
    for (const c of cases) {
      const events: JobEvent[] = [];
      const result = await runHelper({ command: command(c.elevator), cliArgs: ['flash'], jobId: 'ours', targets: ['/dev/sdx', '/dev/sdy'], action: 'write /dev/sdx, /dev/sdy', onEvent: (e) => events.push(e) });
      assert.equal(result.ok, false);
      assert.equal(result.jobId, 'ours');
      assert.equal(result.error?.code, c.code, c.elevator);
      assert.match(result.error?.message ?? '', c.says);
      assert.deepEqual(result.targets.map((p) => [p.device, p.status]), [['/dev/sdx', 'failed'], ['/dev/sdy', 'failed']]);
      assert.deepEqual(events, [result], 'the final event is relayed too');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the helper runs the real CLI and its NDJSON events arrive under our job id (env(1) standing in for pkexec)', async (t) => {
  t.diagnostic(NOTE);
  const image = imageIn('gz');
  await withLoopDevice(OS_IMAGE_SIZE + (1 << 20), async (loop) => {
    const events: JobEvent[] = [];
    const req = { image, targets: [loop.device], verify: true };
    const result = await runHelper({ command: command('/usr/bin/env'), cliArgs: flashCliArgs(req), jobId: 'ours', targets: req.targets, action: `write ${loop.device}`, onEvent: (e) => events.push(e) });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.ok(events.every((e) => e.jobId === 'ours'), 'every event carries our id');
    assert.equal(events[0]?.type, 'job-started');
    assert.equal(events.at(-1), result);
    assert.ok(events.some((e) => e.type === 'progress' && e.phase === 'verifying'), 'the verify phase was relayed');
    assert.deepEqual(result.targets.map((p) => [p.device, p.status]), [[loop.device, 'verified']]);
    assert.equal(firstDeviceDifference(loop.device, osImage()), -1, 'the device holds the image');
  });
});

test('a refusal inside the helper ends the job with the CLI\'s own error', async () => {
  await withLoopDevice(1 << 20, async (loop) => {
    const req = { image: osImage(), targets: [loop.device], verify: true };
    const result = await runHelper({ command: command('/usr/bin/env'), cliArgs: flashCliArgs(req), jobId: 'ours', targets: req.targets, action: `write ${loop.device}`, onEvent: () => undefined });
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, 'E_TARGET_TOO_SMALL');
  });
});

test('cancelling closes the helper\'s stdin, and the CLI cancels its job', async () => {
  await withLoopDevice(OS_IMAGE_SIZE, async (loop) => {
    const controller = new AbortController();
    // Aborted before the helper starts: its stdin is closed at once, and it
    // must notice once it reaches the job (deterministic, no timing).
    controller.abort();
    const req = { image: imageIn('bz2'), targets: [loop.device], verify: true };
    const result = await runHelper({ command: command('/usr/bin/env'), cliArgs: flashCliArgs(req), jobId: 'ours', targets: req.targets, action: `write ${loop.device}`, signal: controller.signal, onEvent: () => undefined });
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, 'E_CANCELLED', JSON.stringify(result.error));
    assert.notEqual(result.targets[0]?.status, 'verified');
  });
});
