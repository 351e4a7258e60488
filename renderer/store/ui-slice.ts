import type { SliceCreator } from './app-store';

export type Screen = 'flash' | 'backup' | 'restore' | 'format';

export interface UiSlice {
  screen: Screen;
  /**
   * The system's open and save dialogs and "Show in folder" exist (Electron).
   * In browser mode they do not: those buttons are not shown, the path fields are.
   */
  nativeDialogs: boolean;
  screenChosen(screen: Screen): void;
}

export const createUiSlice: SliceCreator<UiSlice> = (set) => ({
  screen: 'flash',
  nativeDialogs: false,
  screenChosen: (screen) => set({ screen }),
});
