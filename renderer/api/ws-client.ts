import type { CallName, Calls, EventName, Events, ImprintApi, Result, Unsubscribe } from '../../shared/ipc-contract';
import type { WsCallFrame, WsServerFrame } from '../../shared/ws-protocol';
import { isEventFrame } from '../../shared/ws-protocol';

/**
 * The part of the browser's WebSocket this client uses. The real one in the
 * page; a unit test hands in a fake that stands in for the transport only.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export interface WsClientOptions {
  /**
   * Wait before reconnecting after the socket closed. Owned by this client:
   * 1 s keeps a restarted `npm run web` usable without hammering it.
   */
  reconnectDelayMs?: number;
}

const OPEN = 1;

type Pending = (result: Result<unknown>) => void;

const lost = (): Result<never> => ({
  ok: false,
  error: {
    code: 'E_INTERNAL',
    message: 'Lost the connection to the Imprint service. Is `npm run web` still running, and is this page\'s token current?',
  },
});

/**
 * ImprintApi over browser mode's WebSocket (protocol: shared/ws-protocol.ts).
 * Calls made before the socket opens are queued; calls in flight when it
 * closes resolve as errors (as data, like every other failure); the client
 * reconnects by itself so pushes resume when the server comes back.
 */
export function createWsClient(url: string, open: SocketFactory = (u) => new WebSocket(u) as unknown as SocketLike, options: WsClientOptions = {}): ImprintApi {
  const reconnectDelayMs = options.reconnectDelayMs ?? 1000;
  let socket: SocketLike | null = null;
  let nextId = 1;
  const queue: string[] = [];
  const pending = new Map<number, Pending>();
  const listeners: { [E in EventName]: Set<(payload: Events[E]) => void> } = {
    onDrivesChanged: new Set(),
    onJobEvent: new Set(),
  };
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;

  function dispatch(frame: WsServerFrame): void {
    if (isEventFrame(frame)) {
      const set = listeners[frame.event] as Set<(payload: unknown) => void> | undefined;
      set?.forEach((listener) => listener(frame.payload));
      return;
    }
    const resolve = pending.get(frame.id);
    if (resolve) {
      pending.delete(frame.id);
      resolve(frame.result);
    }
  }

  let opened = false;

  function connect(): SocketLike {
    const s = open(url);
    socket = s;
    s.onopen = () => {
      while (queue.length > 0 && socket === s) s.send(queue.shift() as string);
      // Drive changes pushed while the socket was down are lost: after a
      // reconnect, hand the listeners a fresh list instead.
      if (opened && listeners.onDrivesChanged.size > 0) {
        void call('listDrives', {}).then((r) => {
          if (r.ok) listeners.onDrivesChanged.forEach((l) => l(r.value));
        });
      }
      // So are job events: replay each job's latest state (a job that ended
      // meanwhile arrives finished).
      if (opened && listeners.onJobEvent.size > 0) {
        void call('jobSnapshots', {}).then((r) => {
          if (r.ok) for (const event of r.value) listeners.onJobEvent.forEach((l) => l(event));
        });
      }
      opened = true;
    };
    s.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let frame: WsServerFrame;
      try {
        frame = JSON.parse(ev.data) as WsServerFrame;
      } catch {
        return;
      }
      dispatch(frame);
    };
    s.onerror = () => undefined; // onclose follows and does the work
    s.onclose = () => {
      if (socket !== s) return;
      socket = null;
      queue.length = 0;
      for (const resolve of pending.values()) resolve(lost());
      pending.clear();
      if (reconnectTimer === null) {
        reconnectTimer = setTimeout(() => {
          reconnectTimer = null;
          if (socket === null) connect();
        }, reconnectDelayMs);
      }
    };
    return s;
  }

  function call<K extends CallName>(name: K, request: Calls[K]['request']): Promise<Result<Calls[K]['response']>> {
    const id = nextId++;
    const frame = { id, call: name, request } as WsCallFrame;
    const text = JSON.stringify(frame);
    return new Promise((resolve) => {
      pending.set(id, resolve as Pending);
      const s = socket ?? connect();
      if (s.readyState === OPEN) s.send(text);
      else queue.push(text);
    });
  }

  function on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): Unsubscribe {
    listeners[name].add(listener);
    if (socket === null) connect();
    return () => listeners[name].delete(listener);
  }

  return {
    listDrives: (r) => call('listDrives', r),
    inspectImage: (r) => call('inspectImage', r),
    inspectBackup: (r) => call('inspectBackup', r),
    chooseImage: (r) => call('chooseImage', r),
    chooseBackupPath: (r) => call('chooseBackupPath', r),
    startFlash: (r) => call('startFlash', r),
    startBackup: (r) => call('startBackup', r),
    planBackup: (r) => call('planBackup', r),
    startRestore: (r) => call('startRestore', r),
    startFormat: (r) => call('startFormat', r),
    cancelJob: (r) => call('cancelJob', r),
    revealFile: (r) => call('revealFile', r),
    jobSnapshots: (r) => call('jobSnapshots', r),
    checkBackupOutput: (r) => call('checkBackupOutput', r),
    inspectLayout: (r) => call('inspectLayout', r),
    listFolder: (r) => call('listFolder', r),
    loadCatalogue: (r) => call('loadCatalogue', r),
    startFlashUrl: (r) => call('startFlashUrl', r),
    startFlashOs: (r) => call('startFlashOs', r),
    browsePartitions: (r) => call('browsePartitions', r),
    browseFolder: (r) => call('browseFolder', r),
    startExtract: (r) => call('startExtract', r),
    chooseFolder: (r) => call('chooseFolder', r),
    inspectBackupFolder: (r) => call('inspectBackupFolder', r),
    startFolderBackup: (r) => call('startFolderBackup', r),
    unlockBackupFolder: (r) => call('unlockBackupFolder', r),
    onDrivesChanged: (l) => on('onDrivesChanged', l),
    onJobEvent: (l) => on('onJobEvent', l),
  };
}
