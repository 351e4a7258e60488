import type { ImageFacts } from '../../shared/drive-constraints';
import type { AppState } from './app-store';
import { flashImageFacts } from './drive-options';

/*
 * What Flash writes: the file chosen (image slice) or an image from the web
 * (web-source slice). One place answers for both, so the drive lists, the
 * Flash button and the confirmation agree on it.
 */

/** What the drive lists check a web image against: its size when the catalogue states it, else unknown (the engine checks once the download says). */
export function flashSourceFacts(s: AppState): ImageFacts {
  const w = s.web.chosen;
  if (w) return { path: null, size: w.kind === 'os' ? w.entry.extractSize : null };
  return flashImageFacts(s.image.details);
}

/** The name and size Flash shows and confirms, from the web choice or the file. */
export function flashSourceOf(s: AppState): { name: string; size: number | null; note: string | null } | null {
  const w = s.web.chosen;
  if (w) return { name: w.name, size: w.kind === 'os' ? w.entry.extractSize : null, note: 'It is downloaded and written as it arrives; its checksum is checked before the first MiB of the drive is written, so a bad download never leaves a drive that looks good.' };
  const d = s.image.details;
  return d ? { name: d.name, size: d.size, note: d.sizeNote ?? null } : null;
}
