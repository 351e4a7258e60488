import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { CALL_NAMES, channelOf } from '../../shared/ipc-contract';
import { dispatchUntrusted } from '../service/dispatch';
import type { ImprintService } from '../service/imprint-service';
import { INDEX_URL } from './app-paths';
import { guardedCall, type CallSender } from './ipc-guard';

/**
 * The only file that uses ipcMain. One handler per call in the contract,
 * each checking its sender and payload (ipc-guard.ts) before the service
 * acts; the service's events go to our window alone. Returns the unbinding.
 */
export function bindIpc(service: ImprintService, window: BrowserWindow, log: (message: string) => void): () => void {
  const senderOf = (event: IpcMainInvokeEvent): CallSender => {
    const frame = event.senderFrame;
    const ours = !window.isDestroyed() && event.sender === window.webContents && frame !== null && frame === window.webContents.mainFrame;
    return { isOurMainFrame: ours, url: frame ? frame.url : null };
  };
  for (const name of CALL_NAMES) {
    ipcMain.handle(channelOf(name), (event, payload: unknown) =>
      guardedCall(senderOf(event), INDEX_URL, name, payload, (n, p) => dispatchUntrusted(service, n, p), log),
    );
  }
  const unsubscribe = service.subscribe((e) => {
    if (!window.isDestroyed()) window.webContents.send(channelOf(e.event), e.payload);
  });
  return () => {
    for (const name of CALL_NAMES) ipcMain.removeHandler(channelOf(name));
    unsubscribe();
  };
}
