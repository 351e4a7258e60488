// Lint, and above all the layer rules (docs/architecture.md): a wrong import
// between layers, or between the engine's levels, fails `npm test`.
import * as path from 'node:path';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'zlib', 'net', 'http', 'stream', 'events', 'url', 'util', 'readline', 'buffer', 'process', 'timers']
  .flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`]);

const ban = (groups, message) => groups.map((group) => ({ group: [group].flat(), message }));

function layer(files, patterns, ignores = []) {
  return { files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

const ENGINE = ['**/electron/engine/**', '**/engine/**'];
const RENDERER = ['**/renderer/**'];
const MAIN = ['**/electron/main/**', '**/main/**'];

/*
 * The engine's folders by level, lowest first. A file imports only its own
 * level or lower; folders on one level may use each other (the import-cycle
 * check keeps them from going round in circles). Files directly in
 * electron/engine/ (errors, the worker host) are the lowest level. testing/
 * holds helpers for tests: anything may be imported by it, and only tests and
 * other helpers import it.
 */
export const ENGINE_LEVELS = [
  ['.', 'io', 'net', 'hash'],
  ['formats', 'disks', 'catalogues', 'drives'],
  ['workers'],
  ['pipelines'],
  ['jobs'],
];
const ENGINE_ROOT = path.join('electron', 'engine');

/** Where a file sits in the engine: its level folder, or null outside the engine. */
function engineFolder(file) {
  const rel = path.relative(path.resolve(ENGINE_ROOT), path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const parts = rel.split(path.sep);
  return parts.length === 1 ? '.' : parts[0];
}
const levelOf = (folder) => ENGINE_LEVELS.findIndex((l) => l.includes(folder));

const engineLevelsRule = {
  meta: { type: 'problem', schema: [], docs: { description: 'Inside electron/engine, import only from your own level or a lower one.' } },
  create(context) {
    const file = context.filename;
    const from = engineFolder(file);
    if (from === null) return {};
    const isTest = /\.test\.tsx?$/.test(file);
    const check = (node) => {
      const spec = node?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = engineFolder(path.resolve(path.dirname(file), spec));
      if (to === null || to === from) return;
      if (to === 'testing') {
        if (!isTest && from !== 'testing') context.report({ node, message: `testing/ holds helpers for tests; ${from}/ code must not import it.` });
        return;
      }
      if (from === 'testing') return;
      const a = levelOf(from);
      const b = levelOf(to);
      if (a < 0 || b < 0) {
        const stray = a < 0 ? from : to;
        context.report({ node, message: `electron/engine/${stray}/ is not a level folder: put the file in one of ${ENGINE_LEVELS.flat().filter((f) => f !== '.').join(', ')} (see ENGINE_LEVELS).` });
      } else if (b > a) {
        context.report({ node, message: `The engine's ${from === '.' ? 'root files' : from + '/'} (level ${a}) must not import ${to}/ (level ${b}): import only from your own level or lower (see ENGINE_LEVELS).` });
      }
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
      TSImportType: (n) => check(n.argument?.literal ?? n.argument),
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'test-results/**', 'playwright-report/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  layer(['shared/**/*.ts', 'shared/**/*.tsx'], [
    ...ban(NODE_BUILTINS, 'shared/ is pure: no Node modules.'),
    ...ban(['electron', 'react', 'react-dom', 'zustand'], 'shared/ imports nothing but itself.'),
    ...ban(['**/electron/**', '**/renderer/**'], 'shared/ imports nothing but itself.'),
  ]),
  layer(['electron/engine/**/*.ts'], [
    ...ban(['electron', 'electron/*'], 'The engine never imports electron: the CLI and tests run it too.'),
    ...ban([...RENDERER, ...MAIN, '**/cli/**', '**/preload/**'], 'The engine imports only shared/ and node.'),
  ]),
  {
    files: ['electron/engine/**/*.ts'],
    plugins: { imprint: { rules: { 'engine-levels': engineLevelsRule } } },
    rules: { 'imprint/engine-levels': 'error' },
  },
  layer(['electron/service/**/*.ts'], [
    ...ban(['electron', 'electron/*'], 'The service never imports electron: browser mode and tests run it under plain Node.'),
    ...ban([...RENDERER, ...MAIN, '**/cli/**', '**/preload/**', '**/browser-mode/**'], 'The service imports only shared/, the engine and node.'),
  ]),
  layer(['electron/browser-mode/**/*.ts'], [
    ...ban(['electron', 'electron/*'], 'Browser mode runs under plain Node, without electron.'),
    ...ban([...ENGINE, ...RENDERER, ...MAIN, '**/cli/**', '**/preload/**'], 'Browser mode imports only shared/ and the service.'),
  ], ['**/*.test.ts']), // its tests build images and loop devices with the engine's test fixtures
  layer(['electron/cli/**/*.ts'], [
    ...ban(['electron', 'electron/*'], 'The CLI never imports electron.'),
    ...ban([...RENDERER, ...MAIN, '**/preload/**'], 'The CLI imports only shared/ and the engine.'),
  ]),
  layer(['electron/main/**/*.ts'], [
    ...ban([...RENDERER, '**/preload/**', '**/cli/**'], 'Main imports shared/, the engine and electron.'),
  ]),
  layer(['electron/preload/**/*.ts'], [
    ...ban(NODE_BUILTINS, 'The preload touches no Node modules.'),
    ...ban([...ENGINE, ...RENDERER, ...MAIN, '**/cli/**'], 'The preload imports only shared/ and electron.'),
  ]),
  layer(['renderer/**/*.ts', 'renderer/**/*.tsx'], [
    ...ban(NODE_BUILTINS, 'The renderer is a sandboxed web page: no Node modules.'),
    ...ban(['electron', 'electron/*'], 'The renderer talks to main only through the exposed API.'),
    ...ban([...ENGINE, ...MAIN, '**/cli/**', '**/preload/**'], 'The renderer imports only shared/ and its own files.'),
  ]),
  {
    // ipcRenderer lives in the preload alone; ipcMain in main's one binding file.
    files: ['**/*.ts', '**/*.tsx'],
    ignores: ['electron/preload/**', 'electron/main/ipc-*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "ImportSpecifier[imported.name=/^ipc(Renderer|Main)$/]",
        message: 'ipcRenderer only in electron/preload, ipcMain only in electron/main/ipc-*.ts.',
      }],
    },
  },
);
