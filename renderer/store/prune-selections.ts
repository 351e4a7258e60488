import type { AppState } from './app-store';
import { flashSourceFacts } from './flash-source';
import { FORMAT_FACTS } from './format-slice';
import { backupDestinationPath } from './backup-target-path';
import { restoreImageFacts, sourceOptions, stillValid, targetOptions } from './drive-options';

/**
 * Choices that no longer hold (the drive vanished, got hidden, or the new
 * image does not fit on it) are dropped whenever drives, "Show all" or the
 * image change: what is checked on screen is exactly what would be written.
 * Jobs already running keep their own target lists.
 */
export function prunedSelections(s: AppState): Partial<AppState> {
  const { list, showAll } = s.drives;
  const flashTargets = stillValid(s.targets.selected, targetOptions(list, flashSourceFacts(s), showAll));
  const restoreTargets = stillValid(s.restore.selected, targetOptions(list, restoreImageFacts(s.restore.details), showAll));
  const source = s.backup.source;
  const sourceOk = source !== null && stillValid([source], sourceOptions(list, backupDestinationPath(s), showAll)).length === 1;
  const formatOk = s.format.selected === null || stillValid([s.format.selected], targetOptions(list, FORMAT_FACTS, showAll)).length === 1;
  const out: Partial<AppState> = {};
  if (flashTargets.length !== s.targets.selected.length) out.targets = { ...s.targets, selected: flashTargets };
  if (restoreTargets.length !== s.restore.selected.length) out.restore = { ...s.restore, selected: restoreTargets };
  if (!formatOk) out.format = { ...s.format, selected: null };
  if (source !== null && !sourceOk) out.backup = { ...s.backup, source: null };
  return out;
}
