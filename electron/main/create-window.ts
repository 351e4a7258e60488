import { BrowserWindow, type Session, type WebContents } from 'electron';
import { isIndexUrl } from './ipc-guard';
import { INDEX_URL, PRELOAD_JS } from './app-paths';

/**
 * The one way Imprint makes a window, so no window can be made with weaker
 * settings. Electron's security checklist, item by item:
 *  - context isolation, sandbox, no Node in the page, its workers or frames;
 *  - web security on, no insecure content, no experimental or Blink features,
 *    no <webview>;
 *  - a strict CSP (session header + the page's meta tag);
 *  - navigation limited to our own index.html, new windows denied;
 *  - every permission request denied (the app needs none);
 *  - no remote module (it no longer exists in Electron; nothing enables it).
 */
export function createMainWindow(devTools: boolean): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    // The layout is designed to hold at 800x600.
    minWidth: 800,
    minHeight: 600,
    show: false,
    title: 'Imprint',
    backgroundColor: '#f6f7f9',
    webPreferences: {
      preload: PRELOAD_JS,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      // Middle-click would open links in new windows (denied anyway); turn the feature off outright.
      disableBlinkFeatures: 'Auxclick',
      devTools,
    },
  });
  guardContents(win.webContents);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(INDEX_URL);
  return win;
}

/**
 * Navigation and window rules for any web contents (main.ts applies them to
 * every one created, in case some code path makes another).
 */
export function guardContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isIndexUrl(url, INDEX_URL)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isIndexUrl(url, INDEX_URL)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Session-wide rules: deny every permission and device request, and send our CSP with every response. */
export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    // Spelled out here (same as WINDOW_CSP, which a test compares) so reviewers and electronegativity see the policy at its point of use.
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': ["default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"],
      },
    });
  });
}
