import type { FolderListing } from '../../shared/ipc-contract';
import type { SliceCreator } from './app-store';

/** What the file browser is choosing: the image to flash, the backup to restore, the folder "Browse files" extracts into, or a backup folder (to back up into, to restore from). */
export type BrowseFor = 'image' | 'backup' | 'extract-folder' | 'backup-folder' | 'restore-folder';

/** The purposes that choose a folder, not a file ("Use this folder"). */
export function choosesFolder(what: BrowseFor | null): boolean {
  return what === 'extract-folder' || what === 'backup-folder' || what === 'restore-folder';
}

export interface BrowseState {
  /** Open for this, or closed (null). */
  for: BrowseFor | null;
  listing: FolderListing | null;
  loading: boolean;
  error: string | null;
  /** The "Folder" field: a folder typed to go straight to. */
  folderInput: string;
}

/**
 * Browser mode's file browser: there is no native open dialog in a browser,
 * so "Choose image…" lists folders through the service (listFolder: only
 * what the user may read) and hands the chosen file to the same action the
 * dialog would.
 */
export interface BrowseSlice {
  browse: BrowseState;
  browseOpened(what: BrowseFor, nearPath: string): Promise<void>;
  browseFolderOpened(path: string): Promise<void>;
  browseFolderTyped(text: string): void;
  browseFileChosen(name: string): Promise<void>;
  /** The listed folder is the one chosen (extract-folder, backup-folder, restore-folder). */
  browseFolderUsed(): void;
  browseClosed(): void;
}

const CLOSED: BrowseState = { for: null, listing: null, loading: false, error: null, folderInput: '' };

/** The folder of an absolute path typed in a field ("/a/b/os.img" -> "/a/b"); "/" otherwise. */
export function folderOf(path: string): string {
  const p = path.trim();
  if (!p.startsWith('/')) return '/';
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

export const createBrowseSlice: SliceCreator<BrowseSlice> = (set, get, api) => {
  const patch = (p: Partial<BrowseState>) => set((s) => ({ browse: { ...s.browse, ...p } }));
  // Listings can answer out of order (the start folder's listing may be slower
  // than the one typed after it): only the newest request's answer is shown,
  // and an answer never overwrites a folder typed while it was on its way.
  let newest = 0;
  let typedSinceRequest = false;
  return {
    browse: CLOSED,

    browseOpened: async (what, nearPath) => {
      set({ browse: { ...CLOSED, for: what } });
      await get().browseFolderOpened(folderOf(nearPath));
      // A folder that is gone or closed to the user: start at the top instead.
      if (get().browse.listing === null && folderOf(nearPath) !== '/') await get().browseFolderOpened('/');
    },

    browseFolderOpened: async (path) => {
      if (get().browse.for === null) return;
      const request = ++newest;
      typedSinceRequest = false;
      patch({ loading: true, error: null });
      const result = await api.listFolder({ path });
      if (get().browse.for === null || request !== newest) return;
      if (result.ok) patch({ listing: result.value, loading: false, ...(typedSinceRequest ? {} : { folderInput: result.value.path }) });
      else patch({ loading: false, error: result.error.message });
    },

    browseFolderTyped: (text) => {
      typedSinceRequest = true;
      patch({ folderInput: text });
    },

    browseFileChosen: async (name) => {
      const { for: what, listing } = get().browse;
      if (!what || !listing) return;
      const path = `${listing.path === '/' ? '' : listing.path}/${name}`;
      set({ browse: CLOSED });
      if (choosesFolder(what)) return;
      if (what === 'image') await get().imageChosen(path);
      else await get().restoreBackupChosen(path);
    },

    browseFolderUsed: () => {
      const { for: what, listing } = get().browse;
      if (!choosesFolder(what) || !listing) return;
      set({ browse: CLOSED });
      if (what === 'backup-folder') get().backupFolderTyped(listing.path);
      else if (what === 'restore-folder') void get().restoreFolderOpened(listing.path);
      else get().insideDestTyped(listing.path);
    },

    browseClosed: () => set({ browse: CLOSED }),
  };
};
