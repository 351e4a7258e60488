import type { LayoutDetails } from '../../shared/ipc-contract';
import type { SliceCreator } from './app-store';

/** A drive map's data, by the path of the drive or image it shows. */
export interface LayoutEntry {
  status: 'loading' | 'ready' | 'failed';
  layout: LayoutDetails | null;
  error: string | null;
}

/** Maps kept at once: the chosen image, a source drive, a few targets, and what was chosen just before. */
const MAX_LAYOUTS = 24;

export interface LayoutsSlice {
  layouts: Record<string, LayoutEntry>;
  /**
   * Reads the partitions of a drive or image for its map. Asked again each
   * time the drive is chosen: what is on a drive changes with every flash.
   */
  layoutRequested(path: string): Promise<void>;
}

export const createLayoutsSlice: SliceCreator<LayoutsSlice> = (set, get, api) => ({
  layouts: {},

  layoutRequested: async (path) => {
    const put = (entry: LayoutEntry) =>
      set((s) => {
        const rest = Object.entries(s.layouts).filter(([p]) => p !== path).slice(-(MAX_LAYOUTS - 1));
        return { layouts: { ...Object.fromEntries(rest), [path]: entry } };
      });
    const before = get().layouts[path];
    put({ status: 'loading', layout: before?.layout ?? null, error: null });
    const result = await api.inspectLayout({ path });
    put(result.ok ? { status: 'ready', layout: result.value, error: null } : { status: 'failed', layout: null, error: result.error.message });
  },
});
