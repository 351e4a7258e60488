import type { ByteRange } from '../filesystem-driver';

/**
 * Builds the sorted, merged range list an AllocationMap carries. Cluster
 * runs arrive in order and extend the last range in place, so a map of a
 * large, fragmented volume stays one array push per run, not per cluster;
 * metadata ranges may arrive out of order and are merged at the end.
 */
export class RangeBuilder {
  private readonly ranges: ByteRange[] = [];
  private sorted = true;

  add(start: number, length: number): void {
    if (length <= 0) return;
    const last = this.ranges[this.ranges.length - 1];
    if (last && start === last.start + last.length) {
      last.length += length;
      return;
    }
    if (last && start < last.start + last.length) this.sorted = false;
    this.ranges.push({ start, length });
  }

  /** The ranges sorted by start, overlaps and neighbours merged. */
  finish(): ByteRange[] {
    if (this.sorted) return this.ranges;
    const sorted = [...this.ranges].sort((a, b) => a.start - b.start);
    const out: ByteRange[] = [];
    for (const r of sorted) {
      const last = out[out.length - 1];
      if (last && r.start <= last.start + last.length) {
        last.length = Math.max(last.length, r.start + r.length - last.start);
      } else {
        out.push({ ...r });
      }
    }
    return out;
  }
}

export function totalLength(ranges: readonly ByteRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.length;
  return n;
}
