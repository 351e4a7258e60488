// Bundles the renderer into out/renderer/ (index.html, app.js, app.css) and
// its unit tests into out/renderer-tests/ so `node --test out/` runs them.
// Plain esbuild: the page has no inline script (its CSP forbids it) and loads
// app.js as a classic deferred script, which also works from file:// in Electron.
import * as esbuild from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Lives in scripts/ (it is Node, not page code); works on renderer/.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rendererDir = join(root, 'renderer');
const outDir = join(root, 'out', 'renderer');
const testOutDir = join(root, 'out', 'renderer-tests');

async function findTests(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findTests(full)));
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

await rm(outDir, { recursive: true, force: true });
await rm(testOutDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

await esbuild.build({
  entryPoints: { app: join(rendererDir, 'main.tsx') },
  outdir: outDir,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome120'],
  jsx: 'automatic',
  minify: true,
  sourcemap: true,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
await copyFile(join(rendererDir, 'index.html'), join(outDir, 'index.html'));
// The favicon: the app's own icon (browser mode's tab; the window icon in Electron comes from resources/ too).
await copyFile(join(root, 'resources', 'icon.svg'), join(outDir, 'icon.svg'));

const tests = await findTests(rendererDir);
if (tests.length > 0) {
  await esbuild.build({
    entryPoints: tests.map((t) => ({ in: t, out: relative(rendererDir, t).replace(/\.ts$/, '') })),
    outdir: testOutDir,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['node20'],
    jsx: 'automatic',
    sourcemap: 'inline',
    external: ['node:*'],
    logLevel: 'warning',
  });
}
console.log(`renderer: built ${relative(root, outDir)}/ and ${tests.length} test file(s)`);
