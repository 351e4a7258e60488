import * as fs from 'fs';
import * as path from 'path';
import { app, dialog, shell, type BrowserWindow, type OpenDialogOptions, type SaveDialogOptions } from 'electron';
import { ImprintError } from '../engine/errors';
import type { DialogAdapter } from '../service/imprint-service';

/** Extensions offered first in the open dialog; the format is told from the content anyway. */
const IMAGE_EXTENSIONS = ['img', 'iso', 'raw', 'bin', 'gz', 'xz', 'zst', 'bz2', 'zip', 'dmg', 'wic'];

/** Native dialogs and the file manager, for the service (browser mode has none). */
export function electronDialogs(window: () => BrowserWindow | null): DialogAdapter {
  return {
    async chooseImage() {
      const options: OpenDialogOptions = {
        title: 'Choose an image',
        properties: ['openFile'],
        filters: [
          { name: 'Disk images', extensions: IMAGE_EXTENSIONS },
          { name: 'All files', extensions: ['*'] },
        ],
      };
      const win = window();
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    async chooseBackupPath(suggestedName) {
      const options: SaveDialogOptions = { title: 'Save the backup as', defaultPath: path.join(app.getPath('documents'), suggestedName), properties: ['createDirectory', 'showOverwriteConfirmation'] };
      const win = window();
      const r = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      return r.canceled || !r.filePath ? null : r.filePath;
    },
    async chooseFolder(title) {
      const options: OpenDialogOptions = { title, defaultPath: app.getPath('documents'), properties: ['openDirectory', 'createDirectory', 'promptToCreate'] };
      const win = window();
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    async revealFile(file) {
      // Only files that exist: showItemInFolder is not a way to open arbitrary paths.
      if (!fs.existsSync(file)) throw new ImprintError('E_SOURCE_NOT_FOUND', `${file} does not exist (any more).`);
      shell.showItemInFolder(file);
    },
  };
}
