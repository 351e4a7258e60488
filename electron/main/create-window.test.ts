import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CALL_NAMES, channelOf } from '../../shared/ipc-contract';
import { ImprintService } from '../service/imprint-service';
import { FakeBrowserWindow, FakeSession, fakeIpcMain, installFakeElectron } from './testing/fake-electron';

// Electron cannot run here: main's modules are loaded against a recording stand-in.
installFakeElectron();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createMainWindow, hardenSession } = require('./create-window') as typeof import('./create-window');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bindIpc } = require('./ipc-bindings') as typeof import('./ipc-bindings');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { INDEX_URL, PRELOAD_JS, WINDOW_CSP } = require('./app-paths') as typeof import('./app-paths');

function newWindow(): FakeBrowserWindow {
  createMainWindow(false);
  const win = FakeBrowserWindow.created.at(-1);
  if (!win) throw new Error('no window was created');
  return win;
}

test('the window is created with the security checklist settings and loads our index.html', () => {
  const win = newWindow();
  assert.deepEqual(
    { ...win.options.webPreferences },
    {
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
      disableBlinkFeatures: 'Auxclick',
      devTools: false,
    },
  );
  assert.equal(win.options.minWidth, 800);
  assert.equal(win.options.minHeight, 600);
  assert.equal(win.loaded, INDEX_URL);
});

test('navigation is blocked except to our own index.html; new windows and webviews are denied', () => {
  const { webContents } = newWindow();
  assert.equal(webContents.emit('will-navigate', 'https://evil.example/'), true);
  assert.equal(webContents.emit('will-navigate', 'file:///etc/passwd'), true);
  assert.equal(webContents.emit('will-redirect', 'https://evil.example/'), true);
  assert.equal(webContents.emit('will-navigate', `${INDEX_URL}#restore`), false, 'in-page state changes are fine');
  assert.equal(webContents.emit('will-attach-webview', {}, {}), true);
  assert.deepEqual(webContents.windowOpenHandler?.({ url: 'https://example.com/' }), { action: 'deny' });
});

test('the session denies every permission and sends the strict CSP with responses', () => {
  const session = new FakeSession();
  hardenSession(session as never);
  const answers: boolean[] = [];
  for (const permission of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) {
    session.permissionRequest?.({}, permission, (granted: boolean) => answers.push(granted));
  }
  assert.deepEqual(answers, [false, false, false, false, false]);
  assert.equal(session.permissionCheck?.({}, 'media'), false);
  assert.equal(session.devicePermission?.({}), false);
  let headers: Record<string, string[]> | undefined;
  session.headers?.({ responseHeaders: { 'X-Other': ['1'] } }, (r: { responseHeaders: Record<string, string[]> }) => (headers = r.responseHeaders));
  assert.deepEqual(headers, { 'X-Other': ['1'], 'Content-Security-Policy': [WINDOW_CSP] });
});

test('IPC: one handler per contract call; only our main frame on our page is served; events go to our window', async () => {
  const win = newWindow();
  const service = new ImprintService({ listDrives: async () => [], log: () => undefined });
  const logged: string[] = [];
  const unbind = bindIpc(service, win as never, (m) => logged.push(m));
  try {
    assert.deepEqual([...fakeIpcMain.handlers.keys()].sort(), CALL_NAMES.map(channelOf).sort());
    const invoke = (event: unknown, payload: unknown) => fakeIpcMain.handlers.get(channelOf('listDrives'))?.(event, payload);
    win.webContents.mainFrame.url = INDEX_URL;
    const fromUs = { sender: win.webContents, senderFrame: win.webContents.mainFrame };
    assert.deepEqual(await invoke(fromUs, {}), { ok: true, value: [] });
    const subframe = { sender: win.webContents, senderFrame: { url: INDEX_URL } };
    assert.equal(((await invoke(subframe, {})) as { error: { code: string } }).error.code, 'E_PERMISSION');
    const otherWindow = { sender: newWindow().webContents, senderFrame: win.webContents.mainFrame };
    assert.equal(((await invoke(otherWindow, {})) as { error: { code: string } }).error.code, 'E_PERMISSION');
    win.webContents.mainFrame.url = 'https://evil.example/';
    assert.equal(((await invoke(fromUs, {})) as { error: { code: string } }).error.code, 'E_PERMISSION');
    assert.equal(logged.length, 3);
    win.webContents.mainFrame.url = INDEX_URL;
    assert.equal(((await invoke(fromUs, { extra: 1 })) as { error: { code: string } }).error.code, 'E_BAD_ARGUMENTS');

    // A service event reaches our window on its channel.
    const r = await service.call('cancelJob', { jobId: 'unknown' });
    assert.equal(r.ok, false);
    (service as unknown as { emit(e: unknown): void }).emit({ event: 'onDrivesChanged', payload: [] });
    assert.deepEqual(win.webContents.sent, [[channelOf('onDrivesChanged'), []]]);
  } finally {
    unbind();
    await service.dispose();
  }
  assert.equal(fakeIpcMain.handlers.size, 0, 'unbinding removes every handler');
});
