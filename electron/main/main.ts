import { app, dialog, Notification, powerSaveBlocker, protocol, session, type BrowserWindow } from 'electron';
import { ImprintService } from '../service/imprint-service';
import { createMainWindow, guardContents, hardenSession } from './create-window';
import { electronDialogs } from './dialogs';
import { bindIpc } from './ipc-bindings';
import { handleAppProtocol, registerAppScheme } from './app-protocol';
import { RENDERER_DIR } from './app-paths';
import { confirmCloseWhileRunning, followJobs } from './job-desktop-integration';

/**
 * Electron main: app lifecycle only. One instance, one window, the engine
 * service behind IPC. No telemetry, no crash upload, no auto-update: nothing
 * here talks to the network.
 */

const log = (message: string): void => {
  process.stderr.write(`imprint: ${message}\n`);
};

// Every renderer sandboxed, whatever a window's own settings say.
app.enableSandbox();
// The page's own scheme (app-protocol.ts) must be declared before 'ready'.
registerAppScheme(protocol);

if (!app.requestSingleInstanceLock()) {
  // Another Imprint is running: it gets focus (below), this one leaves.
  app.quit();
} else {
  let window: BrowserWindow | null = null;
  let service: ImprintService | null = null;
  let unbind: (() => void) | null = null;

  app.on('second-instance', () => {
    if (!window) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  });

  // Rules for any web contents, including ones no code here means to create.
  app.on('web-contents-created', (_event, contents) => guardContents(contents));

  app.whenReady().then(() => {
    hardenSession(session.defaultSession);
    handleAppProtocol(protocol, RENDERER_DIR);
    const s = new ImprintService({ dialogs: electronDialogs(() => window), log });
    service = s;
    window = createMainWindow(!app.isPackaged);
    unbind = bindIpc(s, window, log);
    const unfollow = followJobs((l) => s.subscribe(l), { window: () => window, powerSaveBlocker, Notification });
    confirmCloseWhileRunning(window, () => s.runningJobs.length, dialog);
    window.on('closed', () => {
      unbind?.();
      unbind = null;
      unfollow();
      window = null;
    });
  }, (err: unknown) => {
    log(`could not start: ${String(err)}`);
    app.exit(1);
  });

  // A disk utility: closing its window ends it, on every platform.
  app.on('window-all-closed', () => app.quit());

  let stopping = false;
  app.on('before-quit', (event) => {
    if (!service || stopping) return;
    // Jobs are cancelled and their devices closed before the process ends.
    event.preventDefault();
    stopping = true;
    const s = service;
    service = null;
    void s.dispose().finally(() => app.quit());
  });
}
