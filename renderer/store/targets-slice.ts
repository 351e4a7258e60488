import type { SliceCreator } from './app-store';
import { stillValid, targetOptions } from './drive-options';
import { flashSourceFacts } from './flash-source';
import { busyDevices } from './jobs-slice';

export interface TargetsState {
  /** Device paths chosen to be written, in the order chosen. */
  selected: string[];
}

export interface TargetsSlice {
  targets: TargetsState;
  /** A target's checkbox was clicked: choose it, or unchoose it. Refused drives cannot be chosen. */
  targetToggled(device: string): void;
}

export const createTargetsSlice: SliceCreator<TargetsSlice> = (set, get) => ({
  targets: { selected: [] },

  targetToggled: (device) => {
    const s = get();
    const selected = s.targets.selected;
    if (selected.includes(device)) {
      set({ targets: { selected: selected.filter((d) => d !== device) } });
      return;
    }
    const options = targetOptions(s.drives.list, flashSourceFacts(s), s.drives.showAll, busyDevices(s));
    if (stillValid([device], options).length === 0) return;
    set({ targets: { selected: [...selected, device] } });
  },
});
