import type { DesktopExtras } from './ipc-contract';

/** A file dropped on the window: its name, and its path when the app can know it. */
export interface DroppedFile {
  name: string;
  /** Null in a browser, which never gives a page a file's path: the user types it instead. */
  path: string | null;
}

/**
 * What a drop on the window gave. The desktop app's preload asks Electron
 * (webUtils.getPathForFile: since Electron 32 a File carries no `path`);
 * browser mode has no `pathForFile`, and its drops have no path.
 */
export function droppedFile(file: Blob & { name: string }, api: Partial<DesktopExtras>): DroppedFile {
  const path = api.pathForFile?.(file) ?? '';
  return { name: file.name, path: path.length > 0 ? path : null };
}
