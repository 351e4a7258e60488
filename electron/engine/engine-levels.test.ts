// The engine's levels (eslint.config.mjs, ENGINE_LEVELS) and its freedom from
// import cycles (scripts/import-cycles.mjs) are checked by `npm run lint`;
// these tests show both checks would catch a mistake, not just that today's
// tree passes them.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const ENGINE = path.join(REPO_ROOT, 'electron', 'engine');

/** The engine-levels messages ESLint gives `code` as if it were the file at `rel` (under electron/engine). */
async function levelErrors(rel: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: REPO_ROOT });
  const [result] = await eslint.lintText(code, { filePath: path.join(ENGINE, rel) });
  assert.ok(result, 'ESLint returned a result');
  return result.messages.filter((m) => m.ruleId === 'imprint/engine-levels').map((m) => m.message);
}

test('a low level importing a higher one is rejected', { timeout: 120_000 }, async () => {
  const errors = await levelErrors('io/wrong-way.ts', "import { runFlash } from '../jobs/flash-job';\nexport const f = runFlash;\n");
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0] ?? '', /io\/ \(level 0\) must not import jobs\/ \(level 4\)/);
  // Type-only imports and re-exports count as well.
  assert.equal((await levelErrors('formats/wrong-way.ts', "import type { WritePipeline } from '../pipelines/write-pipeline';\nexport type W = WritePipeline;\n")).length, 1);
  assert.equal((await levelErrors('workers/wrong-way.ts', "export { runFlash } from '../jobs/flash-job';\n")).length, 1);
  assert.equal((await levelErrors('wrong-way.ts', "import { inspectSource } from './formats/image-source';\nexport const f = inspectSource;\n")).length, 1);
});

test('imports downward and within a level pass', { timeout: 120_000 }, async () => {
  assert.deepEqual(await levelErrors('jobs/right-way.ts', "import { readFully } from '../io/full-io';\nimport { WritePipeline } from '../pipelines/write-pipeline';\nexport const f = [readFully, WritePipeline];\n"), []);
  assert.deepEqual(await levelErrors('disks/right-way.ts', "import { inspectSource } from '../formats/image-source';\nexport const f = inspectSource;\n"), []);
});

test('test helpers are for tests, and a folder outside the levels is refused', { timeout: 120_000 }, async () => {
  assert.equal((await levelErrors('formats/uses-helper.ts', "import { runTool } from '../testing/run-tool';\nexport const f = runTool;\n")).length, 1);
  assert.deepEqual(await levelErrors('formats/uses-helper.test.ts', "import { runTool } from '../testing/run-tool';\nexport const f = runTool;\n"), []);
  const stray = await levelErrors('misc/stray.ts', "import { readFully } from '../io/full-io';\nexport const f = readFully;\n");
  assert.equal(stray.length, 1);
  assert.match(stray[0] ?? '', /not a level folder/);
});

type FindCycles = (dir: string) => string[][];
async function cycleFinder(): Promise<FindCycles> {
  const mod = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'import-cycles.mjs')).href)) as { findImportCycles: FindCycles };
  return mod.findImportCycles;
}

test('the engine has no import cycles, type-only imports included', async () => {
  assert.deepEqual((await cycleFinder())(ENGINE), []);
});

test('the cycle check finds a cycle made only of type imports', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-cycles-'));
  try {
    fs.mkdirSync(path.join(dir, 'formats'));
    fs.writeFileSync(path.join(dir, 'formats', 'a.ts'), "import type { B } from './b';\nexport type A = { b: B };\n");
    fs.writeFileSync(path.join(dir, 'formats', 'b.ts'), "import type { A } from './a';\nexport type B = { a?: A };\n");
    fs.writeFileSync(path.join(dir, 'formats', 'c.ts'), "import type { A } from './a';\nexport type C = A;\n");
    const cycles = (await cycleFinder())(dir);
    assert.equal(cycles.length, 1);
    assert.deepEqual([...(cycles[0] ?? [])].sort(), ['formats/a.ts', 'formats/a.ts', 'formats/b.ts'].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
