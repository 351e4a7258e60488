// Import cycles among the TypeScript files of a folder. Type-only imports
// count: a cycle of types still ties two files together, so neither can be
// understood, moved or tested alone. Tests and test helpers are left out.
//
//   node scripts/import-cycles.mjs [DIR...]   (default: electron/engine)
//
// Prints each cycle as a path (a -> b -> a) and exits 1 if there is any.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const isSource = (name) => /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) && !name.endsWith('.d.ts');

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testing' || e.name === 'node_modules' ? [] : sourceFiles(p);
    return isSource(e.name) ? [p] : [];
  });
}

/** The files `file` imports or re-exports, by relative path, that are in `known`. */
function importsOf(file, known) {
  // preProcessFile lists import, export-from, import() and require() specifiers, `import type` included.
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  const out = [];
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), fileName.replace(/\.js$/, ''));
    const hit = [`${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')].find((c) => known.has(c));
    if (hit) out.push(hit);
  }
  return out;
}

/** Every cycle reachable by depth-first search, each as a list of files starting and ending at the same one. */
export function findImportCycles(dir) {
  const root = path.resolve(dir);
  const files = sourceFiles(root);
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f, known)]));
  const state = new Map(); // undefined: not seen; 1: on the current path; 2: done
  const trail = [];
  const cycles = [];
  const visit = (f) => {
    state.set(f, 1);
    trail.push(f);
    for (const g of graph.get(f)) {
      if (state.get(g) === 1) cycles.push([...trail.slice(trail.indexOf(g)), g].map((p) => path.relative(root, p)));
      else if (state.get(g) === undefined) visit(g);
    }
    trail.pop();
    state.set(f, 2);
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
  return cycles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['electron/engine'];
  let count = 0;
  for (const dir of dirs) {
    for (const c of findImportCycles(dir)) {
      count++;
      console.error(`import cycle in ${dir}: ${c.join(' -> ')}`);
    }
  }
  if (count > 0) {
    console.error(`${count} import cycle(s): break each by moving what both sides need to a lower file.`);
    process.exit(1);
  }
}
