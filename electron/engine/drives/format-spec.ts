import type { FormatFilesystem } from '../../../shared/format-rules';

/** What a formatter is asked to make: one MBR partition over the whole drive, holding `filesystem`. */
export interface FormatSpec {
  device: string;
  /** Bytes, as the drive reports them. */
  size: number;
  filesystem: FormatFilesystem;
  /** As the filesystem stores it (format-rules' storedLabel). */
  label: string;
  signal?: AbortSignal;
  /** Called as each step starts, for progress: 'wiping', 'partitioning', 'making-filesystem'. */
  onStep?: (step: FormatStep) => void;
}

export type FormatStep = 'wiping' | 'partitioning' | 'making-filesystem';
export const FORMAT_STEPS: readonly FormatStep[] = ['wiping', 'partitioning', 'making-filesystem'];

/** Where the new filesystem ended up: its partition's device node. */
export interface FormatOutcome {
  partition: string;
}
