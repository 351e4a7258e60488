import * as path from 'path';

/**
 * Where the built app's parts are, relative to this compiled file
 * (out/electron/main/), inside app.asar when packaged.
 */

/** The renderer's page (built by scripts/build-renderer.mjs). */
export const INDEX_HTML = path.join(__dirname, '..', '..', 'renderer', 'index.html');

/** The folder the app protocol serves (app-protocol.ts). */
export const RENDERER_DIR = path.dirname(INDEX_HTML);

/** Its URL on the app's own scheme (app-protocol.ts): the only page the window may show, and the only sender IPC answers. */
export const INDEX_URL = 'imprint://app/index.html';

/** The preload, bundled into one CommonJS file (sandboxed preloads cannot require our modules). */
export const PRELOAD_JS = path.join(__dirname, '..', 'preload', 'preload.bundle.js');

/**
 * The Content-Security-Policy of the window, sent as a response header by the
 * session (renderer/index.html carries the same in a meta tag). Only the
 * app's own files; no network at all: the renderer reaches the engine
 * through the preload, never over a socket.
 */
export const WINDOW_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
