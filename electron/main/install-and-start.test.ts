import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedPort, electronZipName, startStandInSite, type StandInSite } from './testing/stand-in-electron-site';

/**
 * The README's first command, played on a user's machine: a fresh clone,
 * npm's install, then `npm start`. A loopback server stands in for Electron's
 * download site (ELECTRON_MIRROR, Electron's own variable) and serves a
 * stand-in Electron whose binary records that it was launched and with what.
 * Without a reachable site the install must still succeed and `npm start`
 * must say why the app cannot start.
 *
 * Cost, and what is reused: a real `npm ci` of a fresh clone took 2 min 30 s
 * here (898 packages unpacked from the warm npm cache, three native modules
 * compiled by node-gyp) before any of this runs. So the clone gets the
 * repository's installed node_modules as hard links (a copy where hard links
 * cannot be made), minus the electron package, and `npm install` then does
 * what `npm ci` does for electron: unpacks it fresh from the npm cache,
 * applies package.json's allowScripts to its install script, and runs the
 * project's own postinstall, which is the path under test. The rest of what
 * `npm ci` does is run for real by CI's own `npm ci` (.ci/run). Measured:
 * 71 s of CPU (6 min 18 s of wall time on 2 cores shared with other jobs),
 * most of it the two installs' `prepare` (tsc) and `npm start`'s build; two
 * real `npm ci` runs would add about 3.5 min of CPU.
 *
 * Every child gets its environment spelled out: variables of npm, of Electron
 * (CI sets ELECTRON_SKIP_BINARY_DOWNLOAD=1) and of node:test are removed,
 * then the ones each step is about are set, and Electron's download cache is
 * an empty temporary folder, so nothing already downloaded is reused.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const electronVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string }).version;
// Owned by this test: the longest step is `npm start`'s build, 35 s of CPU that took 2 min 45 s on a busy 2-core host.
const STEP_TIMEOUT_MS = 10 * 60_000;

let work = '';
let clone = '';
let cache = '';
let site: StandInSite | null = null;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in the clone without blocking this process (the stand-in site answers from it). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A user's shell: no npm, Electron or node:test variables, then `extra`, with the empty download cache. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|electron_|NODE_TEST_CONTEXT$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  // npm's own calls home (its update check, audit, funding) are off: npm test stays offline.
  return { ...env, electron_config_cache: cache, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

// --offline: every package comes from npm's cache (warm after the repository's own install); a miss fails at once instead of reaching out.
const install = (extra: Record<string, string>): Promise<Ran> => run('npm', ['install', '--offline'], userEnv(extra));
const start = (): Promise<Ran> => run('npm', ['start'], userEnv({}));
const launches = (): string => (site && fs.existsSync(site.launchLog) ? fs.readFileSync(site.launchLog, 'utf8') : '');
const installRecord = (): { state: string; error?: string; from?: string } =>
  JSON.parse(fs.readFileSync(path.join(clone, 'node_modules', '.imprint-electron-install.json'), 'utf8')) as { state: string; error?: string; from?: string };

/** The repository as committed, plus what the working tree changed (so the test checks the code being worked on). */
function cloneRepository(): void {
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  const changed = execFileSync('git', ['-C', ROOT, 'ls-files', '-z', '--modified', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const rel of new Set(changed)) {
    if (rel === 'node_modules' || rel.startsWith('out/')) continue;
    const from = path.join(ROOT, rel);
    const to = path.join(clone, rel);
    if (!fs.existsSync(from)) fs.rmSync(to, { force: true });
    else {
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}

/** The installed node_modules without electron (see the cost note above). Files are never written in place, only added or removed. */
function reuseNodeModules(): void {
  const from = fs.realpathSync(path.join(ROOT, 'node_modules'));
  const to = path.join(clone, 'node_modules');
  try {
    execFileSync('cp', ['-al', from, to]);
  } catch {
    fs.rmSync(to, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, to]);
  }
  for (const rel of ['electron', '.package-lock.json', '.imprint-electron-install.json', '.bin/electron']) fs.rmSync(path.join(to, rel), { recursive: true, force: true });
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-first-run-'));
  clone = path.join(work, 'imprint');
  cache = path.join(work, 'electron-cache');
  fs.mkdirSync(cache);
  site = await startStandInSite(path.join(work, 'site'), electronVersion);
  cloneRepository();
  reuseNodeModules();
});

after(async () => {
  await site?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('where Electron cannot be downloaded, the install succeeds and npm start says why and offers npm run web', async () => {
  const mirror = `http://127.0.0.1:${await closedPort()}/`;
  const installed = await install({ ELECTRON_MIRROR: mirror });
  assert.equal(installed.code, 0, `npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  const record = installRecord();
  assert.equal(record.state, 'failed');
  assert.equal(record.from, mirror);
  assert.match(record.error ?? '', /ECONNREFUSED/);

  const started = await start();
  assert.notEqual(started.code, 0);
  assert.match(started.stderr, /the Electron binary is not installed/);
  assert.ok(started.stderr.includes(`tried to download it from ${mirror} and failed: the connection was refused`), started.stderr);
  assert.match(started.stderr, /ECONNREFUSED/);
  assert.match(started.stderr, /npm run web/);
  // It said so before building: nothing was built for an app that cannot start.
  assert.equal(fs.existsSync(path.join(clone, 'out', 'renderer')), false);
  assert.equal(launches(), '');
});

test('with ELECTRON_SKIP_BINARY_DOWNLOAD set (as in CI), npm start names the variable', async () => {
  const skipped = await run('npm', ['run', 'install-electron'], userEnv({ ELECTRON_SKIP_BINARY_DOWNLOAD: '1' }));
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.equal(installRecord().state, 'skipped');
  const started = await start();
  assert.notEqual(started.code, 0);
  assert.match(started.stderr, /did not download it: ELECTRON_SKIP_BINARY_DOWNLOAD=1 was set/);
  assert.match(started.stderr, /npm run web/);
  assert.equal(launches(), '');
});

test('where the download site answers (ELECTRON_MIRROR), the install fetches Electron and npm start launches it with the app', async () => {
  assert.ok(site);
  // As after `npm ci`: the electron package unpacked afresh, no binary, no record.
  for (const rel of ['electron', '.imprint-electron-install.json']) fs.rmSync(path.join(clone, 'node_modules', rel), { recursive: true, force: true });
  // The stand-in cannot match the checksums Electron ships in its package: take the site's SHASUMS256.txt instead.
  const installed = await install({ ELECTRON_MIRROR: site.mirror, electron_use_remote_checksums: '1' });
  assert.equal(installed.code, 0, `npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  assert.deepEqual(site.requests, [`/v${electronVersion}/${electronZipName(electronVersion)}`, `/v${electronVersion}/SHASUMS256.txt`]);
  assert.equal(installRecord().state, 'installed');

  const started = await start();
  assert.equal(started.code, 0, `npm start failed:\n${started.stdout}\n${started.stderr}`);
  const [binary, ...args] = launches().trimEnd().split('\n');
  assert.equal(binary, path.join(clone, 'node_modules', 'electron', 'dist', 'electron'));
  // One launch, with the app's folder: Electron loads package.json's main from it, which the build made.
  assert.deepEqual(args, [clone, '--']);
  const main = (JSON.parse(fs.readFileSync(path.join(clone, 'package.json'), 'utf8')) as { main: string }).main;
  assert.ok(fs.existsSync(path.join(clone, main)), `${main} was not built`);
});
