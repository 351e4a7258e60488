#!/usr/bin/env node
// The `imprint` command: the compiled CLI (npm ci builds it via `prepare`).
require('../out/electron/cli/main.js').main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
