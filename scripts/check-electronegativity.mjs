// Part of `npm test`: runs Doyensec's electronegativity over the repository
// (the same checks as `npx @doyensec/electronegativity -i . -o /tmp/eneg.csv`,
// through its programmatic runner, which also says which findings the tool
// itself classes as "review required") and fails on any finding above
// informational.
//
// It runs offline, like all of `npm test`: it is told the Electron version
// (from node_modules/electron/package.json) rather than looking for it, the one
// check that compares that version with Electron's live release list
// (AVAILABLE_SECURITY_FIXES_GLOBAL_CHECK, which downloads the list) is left
// out (keeping Electron current is dependency upkeep: `npm outdated`), and the
// HTTP client electronegativity would fetch its translations with is replaced
// by one that answers at once without the network, so its English messages
// are used and nothing waits on a timeout. Its CSV report goes to a new temporary folder, kept only
// when something fails.
//
// The one exception: a finding the tool marks for manual review, that is
// listed in REVIEWED below with the reviewer's reasoning. A manual-review
// finding not listed fails like any other, so a new preload, a new CSP or a
// weakened one cannot slip through.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

// electronegativity fetches with `got`: its translations at start-up (with a
// 1 s timeout), and the release list in the check left out below. Its `got`,
// resolved from its own folder, is put in the module cache before it loads:
// a GET answers "404 Not Found" at once, so it keeps the English messages it
// ships (and prints no "could not retrieve" line); anything else fails at once.
const enegRequire = createRequire(require.resolve('@doyensec/electronegativity'));
const refuse = () => Promise.reject(new Error('npm test does not use the network'));
const notFound = () => Promise.resolve({ statusCode: 404, headers: {}, body: '' });
const gotPath = enegRequire.resolve('got');
require.cache[gotPath] = { id: gotPath, filename: gotPath, loaded: true, exports: Object.assign(notFound, { default: notFound, get: notFound, head: refuse, stream: refuse }) };
const run = require('@doyensec/electronegativity');

const electronVersion = require('electron/package.json').version;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";
const WHY_SELF =
  "script-src 'self' is reported as possibly weak in case the origin hosts JSONP endpoints, Angular or user uploads. Here 'self' is the app's own file:// folder (or browser mode's 127.0.0.1 server, which serves only the built bundle): none of those exist. Hashes or nonces would need Subresource Integrity, which does not work for file:// scripts.";

/** Manual-review findings that were reviewed: check id, file (relative, source or its build output), and why it is fine. */
const REVIEWED = [
  {
    id: 'PRELOAD_JS_CHECK',
    files: ['electron/main/create-window.ts', 'out/electron/main/create-window.js'],
    why: 'The preload is how a context-isolated, sandboxed renderer reaches main at all. It is one bundled file exposing one fixed method per contract call via contextBridge, no generic send, no ipcRenderer, no IPC event objects (tested in electron/main/preload-bundle.test.ts).',
  },
  { id: 'CSP_GLOBAL_CHECK', files: ['electron/main/create-window.ts', 'out/electron/main/create-window.js'], sample: CSP, why: WHY_SELF },
  { id: 'CSP_GLOBAL_CHECK', files: ['renderer/index.html', 'out/renderer/index.html'], why: WHY_SELF },
];

const reportDir = mkdtempSync(join(tmpdir(), 'imprint-eneg-'));
const output = join(reportDir, 'electronegativity.csv');
const result = await run({
  input: root,
  output,
  isRelative: true,
  isSarif: false,
  severitySet: 'INFORMATIONAL',
  confidenceSet: 'TENTATIVE',
  electronVersionOverride: electronVersion,
  excludeFromScan: ['AvailableSecurityFixesGlobalCheck'],
});

const reviewed = (issue) =>
  issue.manualReview === true &&
  REVIEWED.find((r) => r.id === issue.id && r.files.includes(issue.file) && (r.sample === undefined || String(issue.sample ?? '').includes(r.sample)));

const failures = [];
const accepted = [];
for (const issue of result.issues) {
  if (issue.severity.value <= 0) continue; // informational
  const entry = reviewed(issue);
  if (entry) accepted.push([issue, entry]);
  else failures.push(issue);
}
const where = (i) => `${i.file}:${i.location.line}:${i.location.column}`;
const fatalErrors = result.errors.filter((e) => !e.tolerable);

console.log(`electronegativity: ${result.globalChecks + result.atomicChecks} checks against Electron ${electronVersion}, ${result.issues.length} findings`);
for (const [i, entry] of accepted) console.log(`  reviewed  ${i.id} ${i.severity.name} ${where(i)}: ${entry.why.slice(0, 100)}...`);
for (const e of fatalErrors) console.log(`  could not analyse ${e.file}: ${e.message}`);
for (const i of failures) console.log(`  FINDING   ${i.id} ${i.severity.name}/${i.confidence.name}${i.manualReview ? ' (review required, not reviewed)' : ''} ${where(i)}: ${i.description} ${i.shortenedURL}`);
if (failures.length > 0) {
  console.log(`electronegativity: ${failures.length} finding(s) above informational. Fix them (or, for a review-required finding, review it and record why in scripts/check-electronegativity.mjs).`);
  console.log(`electronegativity: the full report is ${output}`);
  // exitCode, not exit(): electronegativity writes the report without waiting for it.
  process.exitCode = 1;
} else {
  console.log('electronegativity: nothing above informational beyond the reviewed items.');
  // Once the report's pending write is done (the process ends when nothing is left to do).
  process.on('exit', () => rmSync(reportDir, { recursive: true, force: true }));
}
