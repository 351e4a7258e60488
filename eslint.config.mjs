// Lint, and above all the layer rule of ../shared/CONVENTIONS.md section 1:
// a wrong import between layers fails `npm test`.
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
