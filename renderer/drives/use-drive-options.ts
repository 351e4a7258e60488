import { useMemo } from 'react';
import type { ImageFacts } from '../../shared/drive-constraints';
import { sourceOptions, targetOptions, type DriveOption } from '../store/drive-options';
import { useApp } from '../store/store-context';

/** The drives to list as write targets for this image (memoized: recomputed only when inputs change). */
export function useTargetOptions(image: ImageFacts): DriveOption[] {
  const list = useApp((s) => s.drives.list);
  const showAll = useApp((s) => s.drives.showAll);
  const { path, size } = image;
  return useMemo(() => targetOptions(list, { path, size }, showAll), [list, path, size, showAll]);
}

/** The drives to list as a backup's source. */
export function useSourceOptions(outputPath: string): DriveOption[] {
  const list = useApp((s) => s.drives.list);
  const showAll = useApp((s) => s.drives.showAll);
  return useMemo(() => sourceOptions(list, outputPath, showAll), [list, outputPath, showAll]);
}
