// `npm start`: launches the desktop app with the Electron binary from
// node_modules, or says plainly why it cannot. Run twice: with --check before
// the build, so a machine without the binary hears why at once rather than
// after a minute of building, then after the build to launch. The binary is
// fetched by `npm ci` (scripts/install-electron.mjs), which records what
// happened: skipped by ELECTRON_SKIP_BINARY_DOWNLOAD (as in CI), or the
// download failed, with its error.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const recordPath = join(root, 'node_modules', '.imprint-electron-install.json');

let binary = null;
try {
  // The electron package exports its binary's path, and throws when no binary was installed.
  binary = require('electron');
} catch {
  binary = null;
}

/** What scripts/install-electron.mjs wrote during `npm ci`, or null when it did not run. */
function installRecord() {
  try {
    return JSON.parse(readFileSync(recordPath, 'utf8'));
  } catch {
    return null;
  }
}

/** A download error in words: most are this machine not reaching the site. */
function explainError(error) {
  if (/ENOTFOUND|EAI_AGAIN/.test(error)) return 'the site\'s name could not be looked up: this machine appears to be offline (or has no DNS).';
  if (/ECONNREFUSED/.test(error)) return 'the connection was refused: nothing answers at that address.';
  if (/ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ECONNRESET|socket hang up/i.test(error)) return 'the site could not be reached: this machine appears to be offline, or a firewall or proxy is in the way.';
  if (/\b404\b/.test(error)) return 'the site has no Electron release of this version for this platform.';
  if (/checksum/i.test(error)) return "the file downloaded did not match Electron's published checksum, so it was not used.";
  return null;
}

function whyMissing() {
  const r = installRecord();
  if (!r) {
    return [
      'The step of `npm ci` that downloads it did not run (--ignore-scripts?), or node_modules was installed by an older Imprint.',
      '`npm run install-electron` downloads it now.',
    ];
  }
  if (r.state === 'skipped') return [`npm ci did not download it: ${r.reason}.`, 'Unset it and run `npm run install-electron` to download it now.'];
  if (r.state === 'not-installed') return [`${r.reason}.`];
  if (r.state === 'failed') {
    const plain = explainError(String(r.error));
    return [
      `npm ci tried to download it from ${r.from} and failed${plain ? `: ${plain}` : '.'}`,
      `  The error: ${r.error}`,
      'Once the site can be reached (or with ELECTRON_MIRROR set to a mirror that can), `npm run install-electron` downloads it.',
    ];
  }
  return [`npm ci reported it as ${r.state}, but it is not where the electron package says it is; \`npm run install-electron\` downloads it again.`];
}

const checkOnly = process.argv[2] === '--check';
if (typeof binary !== 'string' || !existsSync(binary)) {
  process.stderr.write(
    [
      'The desktop app cannot start here: the Electron binary is not installed.',
      ...whyMissing(),
      'Without Electron, `npm run web` serves the same app to a browser on this machine.',
      '',
    ].join('\n'),
  );
  process.exit(1);
}

if (checkOnly) process.exit(0);

const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('error', (err) => {
  process.stderr.write(`Electron (${binary}) could not be started: ${err.message}\nInstead, \`npm run web\` serves the same app to a browser on this machine.\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
