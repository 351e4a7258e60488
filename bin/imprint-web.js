#!/usr/bin/env node
// `npm run web`: Imprint's UI and engine for a browser on this machine (built into out/ by `npm run build`).
require('../out/electron/browser-mode/main.js').main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
