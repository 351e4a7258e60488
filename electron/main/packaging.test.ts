import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import Ajv from 'ajv';
import { load } from 'js-yaml';

/** electron-builder.yml against electron-builder's own JSON schema, and against what the engine needs at run time. */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

interface BuilderConfig {
  appId?: string;
  productName?: string;
  icon?: string;
  asar?: boolean;
  asarUnpack?: string[];
  files?: string[];
  publish?: unknown;
  linux?: { target?: string[] };
  mac?: { target?: string[] };
  win?: { target?: string[] };
}

const config = load(read('electron-builder.yml')) as BuilderConfig;

function schemaValidator(): (data: unknown) => { valid: boolean; errors: string } {
  const schema = JSON.parse(read('node_modules/app-builder-lib/scheme.json')) as object;
  // strict: false: the schema uses keywords ajv does not know (descriptions in markdown...), not a problem with our config.
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return (data) => {
    const valid = validate(data) === true;
    return { valid, errors: JSON.stringify(validate.errors ?? [], null, 1) };
  };
}

test('electron-builder.yml is valid against app-builder-lib/scheme.json', () => {
  const check = schemaValidator();
  const result = check(config);
  assert.ok(result.valid, result.errors);
  // The schema is really applied: a misspelt key or a wrong type is caught.
  assert.equal(check({ ...config, asarUnpak: ['x'] }).valid, false);
  assert.equal(check({ ...config, asar: 'yes' }).valid, false);
});

test('one app, the four installers, no update feed', () => {
  assert.equal(config.productName, 'Imprint');
  assert.match(config.appId ?? '', /^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
  assert.deepEqual(config.linux?.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac?.target, ['dmg']);
  assert.deepEqual(config.win?.target, ['nsis']);
  assert.equal(config.publish, null);
});

test('the icon is a 512x512 PNG in resources/', () => {
  assert.equal(config.icon, 'resources/icon.png');
  const png = fs.readFileSync(path.join(ROOT, 'resources', 'icon.png'));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [512, 512]);
});

/** electron-builder's globs as used here: an exact path, or a folder followed by `/**`. */
function covered(patterns: readonly string[], rel: string): boolean {
  return patterns.some((p) => (p.endsWith('/**') ? rel.startsWith(p.slice(0, -2)) : rel === p));
}

const BUILTINS = new Set(builtinModules);

/** Bare package names and relative files a compiled module requires. */
function requiresOf(file: string): { files: string[]; packages: string[] } {
  const source = fs.readFileSync(file, 'utf8');
  const files: string[] = [];
  const packages: string[] = [];
  for (const m of source.matchAll(/(?:require|import)\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] as string;
    if (spec.startsWith('.')) {
      const base = path.resolve(path.dirname(file), spec);
      const found = [base, `${base}.js`, path.join(base, 'index.js')].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
      if (found) files.push(found);
    } else if (!spec.startsWith('node:') && !BUILTINS.has(spec.split('/')[0] as string)) {
      packages.push(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return { files, packages };
}

/** A package's folder and those of its dependencies, as Node would find them from `from`. */
function packageClosure(name: string, from: string, seen: Set<string>): void {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(pkgDir, 'package.json'))) {
      const rel = path.relative(ROOT, pkgDir);
      if (seen.has(rel)) return;
      seen.add(rel);
      const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const dep of Object.keys(pkg.dependencies ?? {})) packageClosure(dep, pkgDir, seen);
      return;
    }
    if (path.dirname(dir) === dir) throw new Error(`${name} (needed from ${from}) is not installed`);
  }
}

test('every worker thread script, all it imports and the packages it needs are unpacked from asar', () => {
  assert.equal(config.asar, true);
  const unpack = config.asarUnpack ?? [];
  for (const p of ['out/electron/engine/workers/**', 'node_modules/zstd-napi/**', 'node_modules/lzma-native/**']) {
    assert.ok(unpack.includes(p), `asarUnpack lists ${p}`);
  }
  const engine = path.join(ROOT, 'out', 'electron', 'engine');
  const workers = fs
    .readdirSync(engine, { recursive: true, encoding: 'utf8' })
    .filter((f) => /-worker\.js$/.test(f) && !f.includes('testing'))
    .map((f) => path.join(engine, f));
  assert.ok(workers.length >= 5, `found the worker scripts (${workers.length}); run the build first`);

  const modules = new Set<string>();
  const packages = new Set<string>();
  const queue = [...workers];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (modules.has(file)) continue;
    modules.add(file);
    const r = requiresOf(file);
    queue.push(...r.files);
    for (const name of r.packages) packageClosure(name, path.dirname(file), packages);
  }
  const missing = [...modules].map((f) => path.relative(ROOT, f)).concat([...packages].map((p) => `${p}/package.json`)).filter((rel) => !covered(unpack, rel));
  assert.deepEqual(missing, [], 'files a worker loads that would stay inside app.asar');
  assert.ok(packages.has('node_modules/zstd-napi') && packages.has('node_modules/lzma-native'), 'the walk reaches the native modules');
});

test('the app ships the build, not the tests', () => {
  const files = config.files ?? [];
  for (const p of ['package.json', 'bin/**', 'out/**', '!out/**/*.test.js', '!out/e2e/**']) assert.ok(files.includes(p), `files has ${p}`);
});

test('"dependencies" are exactly the packages the compiled app requires at run time; the renderer\'s are bundled, so dev-only', () => {
  // electron-builder packs "dependencies" (and their own) into the app, so a
  // package missing here crashes the installed app, and one too many is dead
  // weight in app.asar. Entry points: main, the CLI and browser-mode scripts
  // (the privileged helper runs the CLI), and the worker threads.
  const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  const engine = path.join(ROOT, 'out', 'electron', 'engine');
  const queue = [
    path.join(ROOT, 'out', 'electron', 'main', 'main.js'),
    ...fs.readdirSync(path.join(ROOT, 'bin')).map((f) => path.join(ROOT, 'bin', f)),
    ...fs
      .readdirSync(engine, { recursive: true, encoding: 'utf8' })
      .filter((f) => /-worker\.js$/.test(f) && !f.includes('testing'))
      .map((f) => path.join(engine, f)),
  ];
  assert.ok(fs.existsSync(queue[0] as string), 'out/electron/main/main.js exists; run the build first');
  const seen = new Set<string>();
  const required = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const r = requiresOf(file);
    queue.push(...r.files);
    // electron is the runtime itself, not a package the app ships.
    for (const name of r.packages) if (name !== 'electron') required.add(name);
  }
  assert.ok(seen.has(path.join(ROOT, 'out', 'electron', 'cli', 'main.js')), 'the walk reaches the CLI through bin/imprint.js');
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}).sort(), [...required].sort());
  for (const name of ['react', 'react-dom', 'zustand']) {
    assert.ok(pkg.devDependencies?.[name], `${name} is a devDependency (esbuild bundles it into out/renderer/app.js)`);
  }
});
