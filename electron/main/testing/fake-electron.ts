/**
 * A stand-in for the `electron` module, for tests only: the Electron binary
 * cannot run here, so main's modules are loaded against this object, which
 * records what they configure (window options, handlers, IPC channels) for
 * the tests to exercise.
 */
import * as Module from 'node:module';

type Handler = (...args: unknown[]) => unknown;

export class FakeWebContents {
  readonly handlers = new Map<string, Handler[]>();
  readonly sent: [string, unknown][] = [];
  windowOpenHandler: Handler | null = null;
  readonly mainFrame = { url: '' };
  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }
  setWindowOpenHandler(handler: Handler): void {
    this.windowOpenHandler = handler;
  }
  send(channel: string, payload: unknown): void {
    this.sent.push([channel, payload]);
  }
  /** Fires `event` as Electron would; returns whether a handler called preventDefault. */
  emit(event: string, ...args: unknown[]): boolean {
    let prevented = false;
    const e = { preventDefault: () => (prevented = true) };
    for (const h of this.handlers.get(event) ?? []) h(e, ...args);
    return prevented;
  }
}

export class FakeBrowserWindow {
  static created: FakeBrowserWindow[] = [];
  readonly webContents = new FakeWebContents();
  loaded: string | null = null;
  destroyed = false;
  constructor(readonly options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>) {
    FakeBrowserWindow.created.push(this);
  }
  readonly handlers = new Map<string, Handler[]>();
  /** Every setProgressBar call, in order. */
  readonly progress: [number, unknown][] = [];
  focused = true;
  closed = false;
  once(): this {
    return this;
  }
  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }
  setProgressBar(value: number, options?: unknown): void {
    this.progress.push([value, options]);
  }
  isFocused(): boolean {
    return this.focused;
  }
  /** Fires 'close' as Electron does; closes unless a handler called preventDefault. */
  close(): void {
    let prevented = false;
    for (const h of this.handlers.get('close') ?? []) h({ preventDefault: () => (prevented = true) });
    if (!prevented) this.closed = true;
  }
  async loadFile(file: string): Promise<void> {
    this.loaded = file;
  }
  async loadURL(url: string): Promise<void> {
    this.loaded = url;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export class FakeSession {
  permissionRequest: Handler | null = null;
  permissionCheck: Handler | null = null;
  devicePermission: Handler | null = null;
  headers: Handler | null = null;
  setPermissionRequestHandler(h: Handler): void {
    this.permissionRequest = h;
  }
  setPermissionCheckHandler(h: Handler): void {
    this.permissionCheck = h;
  }
  setDevicePermissionHandler(h: Handler): void {
    this.devicePermission = h;
  }
  readonly webRequest = { onHeadersReceived: (h: Handler) => (this.headers = h) };
}

export const fakeIpcMain = {
  handlers: new Map<string, Handler>(),
  handle(channel: string, handler: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, handler);
  },
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  },
};

/** protocol: what was registered as privileged, and the handler per scheme. */
export const fakeProtocol = {
  privileged: [] as unknown[],
  handlers: new Map<string, (request: Request) => Promise<Response> | Response>(),
  registerSchemesAsPrivileged(schemes: unknown[]): void {
    this.privileged.push(...schemes);
  },
  handle(scheme: string, handler: (request: Request) => Promise<Response> | Response): void {
    this.handlers.set(scheme, handler);
  },
};

/** powerSaveBlocker: ids started and not yet stopped. */
export const fakePowerSaveBlocker = {
  next: 1,
  active: new Map<number, string>(),
  started: [] as string[],
  start(type: string): number {
    const id = this.next++;
    this.active.set(id, type);
    this.started.push(type);
    return id;
  },
  stop(id: number): boolean {
    return this.active.delete(id);
  },
  isStarted(id: number): boolean {
    return this.active.has(id);
  },
};

/** Notification: every one shown. */
export class FakeNotification {
  static shown: { title?: string; body?: string }[] = [];
  static isSupported(): boolean {
    return true;
  }
  constructor(readonly options: { title?: string; body?: string }) {}
  show(): void {
    FakeNotification.shown.push(this.options);
  }
}

/** dialog: answers showMessageBoxSync with `answer`, recording each question. */
export const fakeDialog = {
  answer: 0,
  asked: [] as unknown[],
  showMessageBoxSync(_win: unknown, options: unknown): number {
    this.asked.push(options);
    return this.answer;
  },
};

export const fakeElectron = {
  protocol: fakeProtocol,
  powerSaveBlocker: fakePowerSaveBlocker,
  Notification: FakeNotification,
  dialog: fakeDialog,
  BrowserWindow: FakeBrowserWindow,
  ipcMain: fakeIpcMain,
};

/** Makes `require('electron')` return the fake from now on in this process (tests run one file per process). */
export function installFakeElectron(): void {
  const resolved = require.resolve('electron');
  const mod = new Module.Module(resolved);
  mod.filename = resolved;
  mod.loaded = true;
  mod.exports = fakeElectron;
  require.cache[resolved] = mod;
}
