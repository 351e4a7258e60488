// The root `postinstall` (run by `npm ci`): fetches the Electron binary that
// `npm start` launches, by running electron's own install.js, so Electron's
// documented variables all work as usual: ELECTRON_MIRROR (and the other
// mirror settings, also as electron_mirror in .npmrc), ELECTRON_SKIP_BINARY_DOWNLOAD,
// electron_config_cache for the download cache, and the checksums Electron
// ships in its package (or the mirror's SHASUMS256.txt with
// electron_use_remote_checksums).
//
// Why not let npm run electron's own postinstall (package.json `allowScripts`)?
// That script exits 1 when the download fails, and then `npm ci` fails as a
// whole: on a machine without access to Electron's downloads (CI, this build
// host, an offline laptop) nothing would install, not even the CLI or the
// browser mode. Here a failed download is written down instead, and
// `npm start` (scripts/launch-electron.mjs) explains it.
//
// What happened is recorded in node_modules/.imprint-electron-install.json
// (beside the install it describes: `npm ci` starts from an empty
// node_modules, so a stale record cannot survive a reinstall). Always exits 0.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = join(root, 'node_modules', 'electron');
const recordPath = join(root, 'node_modules', '.imprint-electron-install.json');

/** Where @electron/get fetches from (its own rule: the mirror variables, else GitHub's releases). */
function downloadSite() {
  const env = process.env;
  return (
    env.npm_config_electron_mirror ||
    env.NPM_CONFIG_ELECTRON_MIRROR ||
    env.npm_package_config_electron_mirror ||
    env.ELECTRON_MIRROR ||
    'https://github.com/electron/electron/releases/download/'
  );
}

function record(entry) {
  writeFileSync(recordPath, JSON.stringify({ ...entry, at: new Date().toISOString() }, null, 2) + '\n');
}

/** True when electron's package says its binary is in place (the same files its index.js reads). */
function binaryInstalled() {
  try {
    const relative = readFileSync(join(electronDir, 'path.txt'), 'utf8');
    return existsSync(join(electronDir, 'dist', relative));
  } catch {
    return false;
  }
}

/**
 * The error @electron/get reported, from install.js's stderr (it prints the
 * error's stack: its first line is "Name: message"). Node's warnings and
 * progress bars are skipped.
 */
function errorLine(stderr) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^[A-Za-z]*Error\b|^Error:/.test(l)) ?? lines.find((l) => !l.startsWith('at ')) ?? 'no error message';
}

async function main() {
  if (!existsSync(join(electronDir, 'install.js'))) {
    // --omit=dev: electron is a devDependency, so this install has no desktop app.
    record({ state: 'not-installed', reason: 'the electron package is not installed (npm ci --omit=dev?)' });
    return;
  }
  const skip = process.env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  if (skip) {
    record({ state: 'skipped', reason: `ELECTRON_SKIP_BINARY_DOWNLOAD=${skip} was set` });
    console.log(`Electron's binary was not downloaded: ELECTRON_SKIP_BINARY_DOWNLOAD=${skip} is set. npm start will say so; npm run web works without it.`);
    return;
  }
  const site = downloadSite();
  let stderr = '';
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['install.js'], { cwd: electronDir, stdio: ['ignore', 'inherit', 'pipe'] });
    // Passed on as it comes (a slow download's progress bar), but for the stack
    // trace under a failure: the summary below says what failed.
    let pending = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (!/^\s+at /.test(line)) process.stderr.write(line + '\n');
    });
    child.on('error', (err) => {
      stderr += String(err.stack ?? err);
      resolve(1);
    });
    child.on('close', (status) => resolve(status ?? 1));
  });
  if (code === 0 && binaryInstalled()) {
    record({ state: 'installed', from: site });
    return;
  }
  const error = code === 0 ? 'install.js finished but left no binary (path.txt or dist/ missing)' : errorLine(stderr);
  record({ state: 'failed', from: site, error });
  console.log(
    [
      '',
      `Electron's binary could not be downloaded from ${site}: ${error}`,
      'npm ci carries on without it: the command line (npx imprint) and the browser mode (npm run web) work;',
      'npm start will explain, and `npm run install-electron` tries the download again.',
      '',
    ].join('\n'),
  );
}

await main();
