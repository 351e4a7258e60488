import type { SliceCreator } from './app-store';

export type Screen = 'flash' | 'backup' | 'restore';

export interface UiSlice {
  screen: Screen;
  screenChosen(screen: Screen): void;
}

export const createUiSlice: SliceCreator<UiSlice> = (set) => ({
  screen: 'flash',
  screenChosen: (screen) => set({ screen }),
});
