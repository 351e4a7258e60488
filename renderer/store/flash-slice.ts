import type { AppState, SliceCreator } from './app-store';
import { stillValid, targetOptions } from './drive-options';
import { flashSourceFacts } from './flash-source';
import { IDLE_JOB, failedToStart, startingJob, type JobView } from './job-view';
import { busyDevices, setJob } from './jobs-slice';

export interface FlashState {
  /** The confirmation dialog naming every drive to be erased is open. */
  confirming: boolean;
  job: JobView;
}

export interface FlashSlice {
  flash: FlashState;
  /** "Flash" pressed: ask for confirmation when there is an image and valid targets. */
  flashRequested(): void;
  flashConfirmDismissed(): void;
  flashConfirmed(): Promise<void>;
  /** "Flash another" after a result: back to the three steps, image and targets kept. */
  newFlashRequested(): void;
}

/** The devices a flash would write now: chosen and still allowed. */
export function flashTargetsNow(s: AppState): string[] {
  return stillValid(s.targets.selected, targetOptions(s.drives.list, flashSourceFacts(s), s.drives.showAll, busyDevices(s)));
}

export const createFlashSlice: SliceCreator<FlashSlice> = (set, get, api) => ({
  flash: { confirming: false, job: IDLE_JOB },

  flashRequested: () => {
    const s = get();
    if ((!s.image.details && !s.web.chosen) || flashTargetsNow(s).length === 0) return;
    if (s.flash.job.status === 'starting' || s.flash.job.status === 'running') return;
    set({ flash: { ...s.flash, confirming: true } });
  },

  flashConfirmDismissed: () => set((s) => ({ flash: { ...s.flash, confirming: false } })),

  flashConfirmed: async () => {
    const s = get();
    const image = s.image.details;
    const web = s.web.chosen;
    const targets = flashTargetsNow(s);
    set({ flash: { confirming: false, job: startingJob() } });
    if ((!image && !web) || targets.length === 0) {
      setJob(set, 'flash', () => failedToStart({ code: 'E_BAD_ARGUMENTS', message: 'Choose an image and at least one drive first.' }));
      return;
    }
    const result =
      web?.kind === 'url'
        ? await api.startFlashUrl({ url: web.url, ...(web.sha256 ? { sha256: web.sha256 } : {}), targets, verify: true })
        : web?.kind === 'os'
          ? await api.startFlashOs({ entryId: web.entry.id, targets, verify: true })
          : await api.startFlash({ image: (image as NonNullable<typeof image>).path, targets, verify: true });
    if (result.ok) get().jobStarted('flash', result.value.jobId);
    else setJob(set, 'flash', () => failedToStart(result.error));
  },

  newFlashRequested: () => {
    const s = get();
    if (s.flash.job.status === 'starting' || s.flash.job.status === 'running') return;
    set({ flash: { confirming: false, job: IDLE_JOB } });
  },
});
