import type { Drive } from '../../shared/drive';
import type { ErrorInfo } from '../../shared/error-codes';
import type { SliceCreator } from './app-store';
import { prunedSelections } from './prune-selections';

export interface DrivesState {
  list: Drive[];
  /** The first list arrived. */
  loaded: boolean;
  error: ErrorInfo | null;
  /** "Show all drives": system drives and loop devices too. */
  showAll: boolean;
}

export interface DrivesSlice {
  drives: DrivesState;
  /** The OS's drive list changed (a push from the service, or the answer to drivesRequested). */
  drivesChanged(list: Drive[]): void;
  drivesRequested(): Promise<void>;
  showAllToggled(): void;
}

export const createDrivesSlice: SliceCreator<DrivesSlice> = (set, get, api) => ({
  drives: { list: [], loaded: false, error: null, showAll: false },

  drivesChanged: (list) => {
    set((s) => ({ drives: { ...s.drives, list, loaded: true, error: null } }));
    set(prunedSelections(get()));
    get().jobDrivesListed();
  },

  drivesRequested: async () => {
    const result = await api.listDrives({});
    if (result.ok) get().drivesChanged(result.value);
    else set((s) => ({ drives: { ...s.drives, error: result.error } }));
  },

  showAllToggled: () => {
    set((s) => ({ drives: { ...s.drives, showAll: !s.drives.showAll } }));
    // Hiding drives must also unchoose them: a target nobody sees is never written.
    set(prunedSelections(get()));
  },
});
