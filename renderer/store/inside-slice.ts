import type { BrowseEntry, BrowsePartition } from '../../shared/browse-types';
import type { JobEvent } from '../../shared/job-events';
import { detailsOf, type ExtractJobDetails } from '../../shared/job-events';
import type { SliceCreator } from './app-store';

/**
 * "Browse files" (issue #16): the inside of the chosen image (Flash) or
 * backup (Restore) as a tree of partitions and folders, files and folders
 * ticked, and "Extract to…" as a job whose progress arrives as job events.
 * Places are PART:PATH strings, as the CLI writes them ("1:/docs").
 */

export interface FolderState {
  entries: BrowseEntry[] | null;
  loading: boolean;
  error: string | null;
}

export interface ExtractState {
  jobId: string | null;
  running: boolean;
  bytesDone: number;
  totalBytes: number | null;
  details: ExtractJobDetails | null;
  error: string | null;
}

export interface InsideState {
  /** The image or backup being browsed, or null (closed). */
  source: string | null;
  /** An encrypted backup folder's unlock handle, when `source` is one of its generations: every request carries it. */
  unlock: string | null;
  partitions: BrowsePartition[] | null;
  error: string | null;
  /** Folders listed so far, by PART:PATH. */
  folders: Record<string, FolderState>;
  expanded: string[];
  selected: string[];
  dest: string;
  extract: ExtractState;
}

export interface InsideSlice {
  inside: InsideState;
  insideOpened(source: string, unlock?: string | null): Promise<void>;
  insideClosed(): void;
  insideToggled(where: string): Promise<void>;
  insideSelected(where: string): void;
  insideDestTyped(text: string): void;
  insideExtractRequested(): Promise<void>;
  insideJobEvent(event: JobEvent): void;
}

const IDLE_EXTRACT: ExtractState = { jobId: null, running: false, bytesDone: 0, totalBytes: null, details: null, error: null };
const CLOSED: InsideState = { source: null, unlock: null, partitions: null, error: null, folders: {}, expanded: [], selected: [], dest: '', extract: IDLE_EXTRACT };

/** The PART:PATH of `name` inside folder `where` ("1:/" + "docs" -> "1:/docs"). */
export function childOf(where: string, name: string): string {
  return where.endsWith('/') ? `${where}${name}` : `${where}/${name}`;
}

/** Whether `inner` lies inside `outer` (or is it). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
}

export const createInsideSlice: SliceCreator<InsideSlice> = (set, get, api) => {
  const patch = (p: Partial<InsideState>) => set((s) => ({ inside: { ...s.inside, ...p } }));
  const patchExtract = (p: Partial<ExtractState>) => set((s) => ({ inside: { ...s.inside, extract: { ...s.inside.extract, ...p } } }));
  const setFolder = (where: string, f: FolderState) => set((s) => ({ inside: { ...s.inside, folders: { ...s.inside.folders, [where]: f } } }));
  const withUnlock = (): { unlock?: string } => {
    const { unlock } = get().inside;
    return unlock ? { unlock } : {};
  };
  /** Main forgot the passphrase the handle stood for (it expires): the Restore screen's folder asks for it again, as after a refused restore. */
  const noteRefusal = (code: string, unlock: string | null): void => {
    if (code === 'E_PASSPHRASE_NEEDED' && unlock !== null && get().restoreFolder.unlock === unlock) get().restoreFolderLockedAgain();
  };
  return {
    inside: CLOSED,

    insideOpened: async (source, unlock = null) => {
      set({ inside: { ...CLOSED, source, unlock } });
      const result = await api.browsePartitions({ source, ...withUnlock() });
      if (get().inside.source !== source) return;
      if (result.ok) patch({ partitions: result.value });
      else {
        patch({ error: result.error.message });
        noteRefusal(result.error.code, unlock);
      }
    },

    insideClosed: () => set({ inside: CLOSED }),

    insideToggled: async (where) => {
      const { source, expanded, folders } = get().inside;
      if (!source) return;
      if (expanded.includes(where)) {
        patch({ expanded: expanded.filter((w) => !within(w, where)) });
        return;
      }
      patch({ expanded: [...expanded, where] });
      if (folders[where]?.entries) return;
      setFolder(where, { entries: null, loading: true, error: null });
      const result = await api.browseFolder({ source, where, ...withUnlock() });
      if (get().inside.source !== source) return;
      if (result.ok) setFolder(where, { entries: result.value.entries, loading: false, error: null });
      else {
        setFolder(where, { entries: null, loading: false, error: result.error.message });
        noteRefusal(result.error.code, get().inside.unlock);
      }
    },

    insideSelected: (where) => {
      const { selected } = get().inside;
      // Ticking a folder covers what is in it: those inside it are unticked, and ticking inside a ticked folder unticks the folder.
      if (selected.includes(where)) patch({ selected: selected.filter((w) => w !== where) });
      else patch({ selected: [...selected.filter((w) => !within(w, where) && !within(where, w)), where] });
    },

    insideDestTyped: (text) => patch({ dest: text }),

    insideExtractRequested: async () => {
      const { source, selected, dest, extract } = get().inside;
      if (!source || selected.length === 0 || extract.running) return;
      const target = dest.trim();
      if (!target.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(target)) {
        patchExtract({ ...IDLE_EXTRACT, error: 'Type or choose the full path of the folder to extract into.' });
        return;
      }
      patchExtract({ ...IDLE_EXTRACT, running: true });
      const result = await api.startExtract({ source, items: selected, dest: target, ...withUnlock() });
      if (!result.ok) {
        patchExtract({ running: false, error: result.error.message });
        noteRefusal(result.error.code, get().inside.unlock);
        return;
      }
      patchExtract({ jobId: result.value.jobId });
      // Events that came before the answer wait among the jobs slice's orphans.
      for (const e of get().jobs.orphans.filter((o) => o.jobId === result.value.jobId)) get().insideJobEvent(e);
    },

    insideJobEvent: (event) => {
      const { extract } = get().inside;
      if (!extract.jobId || event.jobId !== extract.jobId) return;
      if (event.type === 'job-started') patchExtract({ totalBytes: event.totalBytes });
      else if (event.type === 'progress') patchExtract({ bytesDone: event.bytesDone, totalBytes: event.totalBytes });
      else if (event.type === 'job-finished') {
        const details = detailsOf(event, 'extract') ?? null;
        patchExtract({ running: false, details, bytesDone: details?.bytes ?? extract.bytesDone, error: event.ok ? null : (event.error?.message ?? 'The extraction failed.') });
      }
    },
  };
};
