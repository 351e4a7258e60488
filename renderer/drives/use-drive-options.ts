import { useMemo } from 'react';
import type { ImageFacts } from '../../shared/drive-constraints';
import { sourceOptions, targetOptions, type DriveOption } from '../store/drive-options';
import { busyDevices } from '../store/jobs-slice';
import { useApp } from '../store/store-context';

/** Devices in use by running jobs (any window's); recomputed only when the running jobs change. */
function useBusy() {
  const running = useApp((s) => s.jobs.running);
  return useMemo(() => busyDevices({ jobs: { running } }), [running]);
}

/** The drives to list as write targets for this image (memoized: recomputed only when inputs change). */
export function useTargetOptions(image: ImageFacts): DriveOption[] {
  const list = useApp((s) => s.drives.list);
  const showAll = useApp((s) => s.drives.showAll);
  const busy = useBusy();
  const { path, size } = image;
  return useMemo(() => targetOptions(list, { path, size }, showAll, busy), [list, path, size, showAll, busy]);
}

/** The drives to list as a backup's source. */
export function useSourceOptions(outputPath: string): DriveOption[] {
  const list = useApp((s) => s.drives.list);
  const showAll = useApp((s) => s.drives.showAll);
  const busy = useBusy();
  return useMemo(() => sourceOptions(list, outputPath, showAll, busy), [list, outputPath, showAll, busy]);
}
