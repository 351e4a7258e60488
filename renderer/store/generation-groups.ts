import type { GenerationSummary } from '../../shared/backup-folder-types';

/** The generations of one drive in a backup folder, newest first. */
export interface GenerationGroup {
  key: string;
  /** The drive in words: model, serial, and the device path it had. */
  label: string;
  generations: GenerationSummary[];
}

/**
 * Which drive a generation was taken of. The serial says it best (a drive's
 * device path changes between plug-ins); without one, the model and path.
 */
function driveKey(g: GenerationSummary): string {
  if (g.error) return 'unreadable';
  return g.serial ? `serial:${g.model ?? ''}:${g.serial}` : `device:${g.model ?? ''}:${g.device ?? ''}`;
}

export function driveLabel(g: GenerationSummary): string {
  if (g.error) return 'Generations that cannot be read';
  const name = [g.model, g.serial && `serial ${g.serial}`].filter(Boolean).join(', ');
  const device = g.device ?? 'unknown drive';
  return name ? `${name} (${device})` : device;
}

/** Generations grouped by drive; each group newest first, the group with the newest generation first. */
export function groupGenerations(generations: readonly GenerationSummary[]): GenerationGroup[] {
  const groups = new Map<string, GenerationGroup>();
  // Numbers follow id order, which is time order (ids begin with the UTC time): newest = highest number.
  for (const g of [...generations].sort((a, b) => b.number - a.number)) {
    const key = driveKey(g);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, label: driveLabel(g), generations: [] }));
    group.generations.push(g);
  }
  // Unreadable ones last, whatever their age.
  return [...groups.values()].sort((a, b) => Number(a.key === 'unreadable') - Number(b.key === 'unreadable'));
}

/** The newest generation that can be read: the one preselected. */
export function newestGeneration(generations: readonly GenerationSummary[]): GenerationSummary | null {
  return generations.filter((g) => !g.error).reduce<GenerationSummary | null>((best, g) => (best === null || g.number > best.number ? g : best), null);
}
