/** Debian's Chromium (apt-get install chromium; listed in .ci/apt-packages): Playwright downloads no browser here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless and quiet: no sandbox (root in CI), no GPU, nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
