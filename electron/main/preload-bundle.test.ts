import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { droppedFile } from '../../shared/dropped-file';
import { CALL_NAMES, EVENT_NAMES, channelOf, type DesktopExtras } from '../../shared/ipc-contract';
import { PRELOAD_JS } from './app-paths';

/**
 * The preload as the sandbox loads it: one CommonJS file whose only import is
 * `electron`. Electron cannot run here, so the built bundle runs in a VM
 * context with a stand-in `electron` module that records what it is asked.
 */
function loadPreload(): { exposed: Map<string, Record<string, unknown>>; invoked: [string, unknown][]; listeners: Map<string, ((...a: unknown[]) => void)[]>; required: string[] } {
  const source = fs.readFileSync(PRELOAD_JS, 'utf8');
  const exposed = new Map<string, Record<string, unknown>>();
  const invoked: [string, unknown][] = [];
  const listeners = new Map<string, ((...a: unknown[]) => void)[]>();
  const required: string[] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: async (channel: string, payload: unknown) => {
        invoked.push([channel, payload]);
        return { ok: true, value: null };
      },
      on: (channel: string, fn: (...a: unknown[]) => void) => listeners.set(channel, [...(listeners.get(channel) ?? []), fn]),
      removeListener: (channel: string, fn: (...a: unknown[]) => void) => listeners.set(channel, (listeners.get(channel) ?? []).filter((f) => f !== fn)),
    },
    webUtils: { getPathForFile: (file: { fakePath: string }) => file.fakePath },
  };
  const module = { exports: {} };
  const sandboxRequire = (id: string): unknown => {
    required.push(id);
    if (id === 'electron') return electron;
    throw new Error(`a sandboxed preload cannot require ${id}`);
  };
  vm.runInNewContext(source, { require: sandboxRequire, module, exports: module.exports }, { filename: path.basename(PRELOAD_JS) });
  return { exposed, invoked, listeners, required };
}

test('the preload bundle requires nothing but electron', () => {
  const { required } = loadPreload();
  assert.deepEqual([...new Set(required)], ['electron']);
});

test('it exposes window.imprint with one method per call and per event, and nothing else but pathForFile', () => {
  const { exposed } = loadPreload();
  assert.deepEqual([...exposed.keys()], ['imprint']);
  const api = exposed.get('imprint') ?? {};
  assert.deepEqual(Object.keys(api).sort(), [...CALL_NAMES, ...EVENT_NAMES, 'pathForFile'].sort());
  for (const value of Object.values(api)) assert.equal(typeof value, 'function');
});

test('each call invokes its own fixed channel with the request as given', async () => {
  const { exposed, invoked } = loadPreload();
  const api = exposed.get('imprint') as Record<string, (r: unknown) => Promise<unknown>>;
  for (const name of CALL_NAMES) await api[name]?.({ probe: name });
  assert.deepEqual(invoked, CALL_NAMES.map((name) => [channelOf(name), { probe: name }]));
});

test('event listeners get the payload only (never the IPC event), and unsubscribe', () => {
  const { exposed, listeners } = loadPreload();
  const api = exposed.get('imprint') as Record<string, (l: (...a: unknown[]) => void) => () => void>;
  const got: unknown[][] = [];
  const off = api.onJobEvent?.((...args) => got.push(args));
  const channel = channelOf('onJobEvent');
  assert.equal(listeners.get(channel)?.length, 1);
  const ipcEvent = { sender: { send: () => undefined }, senderFrame: {} };
  listeners.get(channel)?.[0]?.(ipcEvent, { type: 'warning', jobId: 'j', message: 'm' });
  assert.deepEqual(got, [[{ type: 'warning', jobId: 'j', message: 'm' }]]);
  off?.();
  assert.equal(listeners.get(channel)?.length, 0);
});

test('pathForFile asks webUtils', () => {
  const { exposed } = loadPreload();
  const api = exposed.get('imprint') as { pathForFile(f: unknown): string };
  assert.equal(api.pathForFile({ fakePath: '/home/me/os.img' }), '/home/me/os.img');
});

test('a file dropped on the window gets its path through the preload (webUtils), as the renderer asks for it', () => {
  const { exposed } = loadPreload();
  const api = exposed.get('imprint') as Partial<DesktopExtras>;
  // Electron 32 and later give a dropped File no `path`: only webUtils knows it.
  const file = Object.assign(new Blob(['x']), { name: 'os.img', fakePath: '/home/me/os.img' });
  assert.deepEqual(droppedFile(file, api), { name: 'os.img', path: '/home/me/os.img' });
  // webUtils answers '' for a file that has no path on disk (made by a page): no path, so the user is asked.
  const made = Object.assign(new Blob(['x']), { name: 'made.img', fakePath: '' });
  assert.deepEqual(droppedFile(made, api), { name: 'made.img', path: null });
  // Browser mode has no preload: no path either.
  assert.deepEqual(droppedFile(file, {}), { name: 'os.img', path: null });
});
