// `npm start` after the build: launches the desktop app with the Electron
// binary from node_modules, or says plainly why it cannot (on machines where
// the binary was not downloaded: ELECTRON_SKIP_BINARY_DOWNLOAD=1, as in CI).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

let binary = null;
try {
  // The electron package exports its binary's path, and throws when the download was skipped.
  binary = require('electron');
} catch {
  binary = null;
}
if (typeof binary !== 'string' || !existsSync(binary)) {
  process.stderr.write(
    [
      'Imprint was built, but the Electron binary is not installed, so the desktop app cannot start here.',
      '(npm skipped its download: ELECTRON_SKIP_BINARY_DOWNLOAD was set, or the download failed.)',
      'Where downloads are possible: node node_modules/electron/install.js, then npm start again.',
      'Without a desktop: npm run web serves the same app to a browser on this machine.',
      '',
    ].join('\n'),
  );
  process.exit(1);
}

const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
