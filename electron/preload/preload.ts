import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { channelOf, type CallName, type Calls, type DesktopExtras, type EventName, type Events, type ImprintApi, type Result, type Unsubscribe } from '../../shared/ipc-contract';

/**
 * The one file that touches ipcRenderer. It exposes `window.imprint`: one
 * method per call and per event of the contract, each bound to its own fixed
 * channel; the page cannot name a channel, send raw IPC, or see an
 * IpcRendererEvent (which would hand it `sender`). Bundled into one CommonJS
 * file (preload.bundle.js) because a sandboxed preload cannot load modules.
 */

function call<K extends CallName>(name: K): (request: Calls[K]['request']) => Promise<Result<Calls[K]['response']>> {
  const channel = channelOf(name);
  return (request) => ipcRenderer.invoke(channel, request) as Promise<Result<Calls[K]['response']>>;
}

function on<E extends EventName>(name: E): (listener: (payload: Events[E]) => void) => Unsubscribe {
  const channel = channelOf(name);
  return (listener) => {
    const relay = (_event: IpcRendererEvent, payload: Events[E]): void => listener(payload);
    ipcRenderer.on(channel, relay);
    return () => {
      ipcRenderer.removeListener(channel, relay);
    };
  };
}

// Spelled out, not generated in a loop: the object literal must name every
// call and event of ImprintApi, or this does not compile.
const api: ImprintApi & DesktopExtras = {
  listDrives: call('listDrives'),
  inspectImage: call('inspectImage'),
  inspectBackup: call('inspectBackup'),
  chooseImage: call('chooseImage'),
  chooseBackupPath: call('chooseBackupPath'),
  startFlash: call('startFlash'),
  startBackup: call('startBackup'),
  planBackup: call('planBackup'),
  startRestore: call('startRestore'),
  startFormat: call('startFormat'),
  cancelJob: call('cancelJob'),
  revealFile: call('revealFile'),
  jobSnapshots: call('jobSnapshots'),
  checkBackupOutput: call('checkBackupOutput'),
  inspectLayout: call('inspectLayout'),
  listFolder: call('listFolder'),
  loadCatalogue: call('loadCatalogue'),
  startFlashUrl: call('startFlashUrl'),
  startFlashOs: call('startFlashOs'),
  browsePartitions: call('browsePartitions'),
  browseFolder: call('browseFolder'),
  startExtract: call('startExtract'),
  chooseFolder: call('chooseFolder'),
  inspectBackupFolder: call('inspectBackupFolder'),
  startFolderBackup: call('startFolderBackup'),
  unlockBackupFolder: call('unlockBackupFolder'),
  onDrivesChanged: on('onDrivesChanged'),
  onJobEvent: on('onJobEvent'),
  pathForFile: (file) => webUtils.getPathForFile(file as Parameters<typeof webUtils.getPathForFile>[0]),
};

contextBridge.exposeInMainWorld('imprint', api);
