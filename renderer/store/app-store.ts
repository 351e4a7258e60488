import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ImprintApi } from '../../shared/ipc-contract';
import { createBackupSlice, type BackupSlice } from './backup-slice';
import { createBackupFolderSlice, type BackupFolderSlice } from './backup-folder-slice';
import { createRestoreFolderSlice, type RestoreFolderSlice } from './restore-folder-slice';
import { createBrowseSlice, type BrowseSlice } from './browse-slice';
import { createDrivesSlice, type DrivesSlice } from './drives-slice';
import { createFlashSlice, type FlashSlice } from './flash-slice';
import { createFormatSlice, type FormatSlice } from './format-slice';
import { createImageSlice, type ImageSlice } from './image-slice';
import { createInsideSlice, type InsideSlice } from './inside-slice';
import { createJobsSlice, type JobsSlice } from './jobs-slice';
import { createLayoutsSlice, type LayoutsSlice } from './layouts-slice';
import { createRestoreSlice, type RestoreSlice } from './restore-slice';
import { createTargetsSlice, type TargetsSlice } from './targets-slice';
import { createUiSlice, type UiSlice } from './ui-slice';
import { createWebSourceSlice, type WebSourceSlice } from './web-source-slice';

/**
 * The one store of the renderer. Each slice keeps its state next to its
 * actions, and actions are named for what happened (`imageChosen`,
 * `targetToggled`). Components read with narrow selectors and dispatch
 * actions; only actions talk to the api, which is handed in here so tests can
 * give a fake transport.
 */
export type AppState = UiSlice & DrivesSlice & ImageSlice & TargetsSlice & FlashSlice & BackupSlice & BackupFolderSlice & RestoreSlice & RestoreFolderSlice & FormatSlice & JobsSlice & LayoutsSlice & BrowseSlice & WebSourceSlice & InsideSlice;

export type AppStore = StoreApi<AppState>;
export type SetState = AppStore['setState'];
export type GetState = AppStore['getState'];

/** How every slice is made: the store's set/get and the api its actions call. */
export type SliceCreator<T> = (set: SetState, get: GetState, api: ImprintApi) => T;

/** What the page knows about where it runs, at start-up. */
export interface AppStoreOptions {
  /** Electron's preload is there: native dialogs and "Show in folder" work. */
  nativeDialogs?: boolean;
}

export function createAppStore(api: ImprintApi, options: AppStoreOptions = {}): AppStore {
  const store = createStore<AppState>()((set, get) => ({
    ...createUiSlice(set, get, api),
    ...createDrivesSlice(set, get, api),
    ...createImageSlice(set, get, api),
    ...createTargetsSlice(set, get, api),
    ...createFlashSlice(set, get, api),
    ...createBackupSlice(set, get, api),
    ...createRestoreSlice(set, get, api),
    ...createBackupFolderSlice(set, get, api),
    ...createRestoreFolderSlice(set, get, api),
    ...createFormatSlice(set, get, api),
    ...createJobsSlice(set, get, api),
    ...createLayoutsSlice(set, get, api),
    ...createBrowseSlice(set, get, api),
    ...createWebSourceSlice(set, get, api),
    ...createInsideSlice(set, get, api),
  }));
  store.setState({ nativeDialogs: options.nativeDialogs === true });
  return store;
}
