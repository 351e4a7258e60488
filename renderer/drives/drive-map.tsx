import type { FilesystemInfo, PartitionInfo } from '../../shared/backup-metadata';
import { formatBytes } from '../../shared/units';

/** What a map draws: the span it covers and what lies in it. */
export interface MapData {
  /** Bytes of the drive or image; null when unknown (the map then ends with the last partition). */
  size: number | null;
  partitions: readonly PartitionInfo[];
  /** A filesystem on the whole drive, when there is no partition table. */
  filesystem: FilesystemInfo | null;
  /** Bytes each partition's filesystem uses, by partition number (from planBackup), to draw used and free. */
  usedBytes?: Readonly<Record<number, number | null>>;
}

interface Segment {
  key: string;
  start: number;
  size: number;
  text: string;
  /** Colour slot (cycled), or 'free' for space no partition uses. */
  tone: number | 'free';
  /** Bytes of it in use, when known. */
  used: number | null;
}

/** Gaps smaller than this (alignment, GPT's tail) are not drawn as free space. */
const SMALL_GAP = 4 * 1024 * 1024;

function fsText(f: FilesystemInfo | null): string {
  if (!f) return 'no filesystem recognised';
  return f.label ? `${f.type} "${f.label}"` : f.type;
}

/** Partitions and the free space between them, in order, with their words. */
export function segmentsOf(map: MapData): { segments: Segment[]; span: number } {
  const parts = [...map.partitions].filter((p) => p.size > 0 && !/extended/i.test(p.typeName ?? '')).sort((a, b) => a.start - b.start);
  const end = Math.max(map.size ?? 0, ...parts.map((p) => p.start + p.size));
  if (parts.length === 0) {
    const whole = map.filesystem ? `Whole drive: ${fsText(map.filesystem)}` : 'No partitions found';
    return { segments: end > 0 ? [{ key: 'whole', start: 0, size: end, text: whole, tone: map.filesystem ? 0 : 'free', used: null }] : [], span: end };
  }
  const segments: Segment[] = [];
  let at = 0;
  parts.forEach((p, i) => {
    if (p.start - at >= SMALL_GAP) segments.push({ key: `gap-${at}`, start: at, size: p.start - at, text: 'Unpartitioned', tone: 'free', used: null });
    const name = p.name ? ` (${p.name})` : '';
    segments.push({ key: `p${p.number}`, start: p.start, size: p.size, text: `${p.number}: ${fsText(p.filesystem)}${name}`, tone: i % 4, used: map.usedBytes?.[p.number] ?? null });
    at = Math.max(at, p.start + p.size);
  });
  if (map.size !== null && map.size - at >= SMALL_GAP) segments.push({ key: `gap-${at}`, start: at, size: map.size - at, text: 'Unpartitioned', tone: 'free', used: null });
  return { segments, span: end };
}

/**
 * A drive as disk tools draw it: a bar of its partitions to scale, and the
 * same in words below (filesystem, label, size), which is what a screen
 * reader reads: the bar itself is a picture of that list.
 */
export function DriveMap({ title, map }: { title: string; map: MapData }) {
  const { segments, span } = segmentsOf(map);
  if (segments.length === 0 || span <= 0) return null;
  return (
    <figure className="drive-map" aria-label={title}>
      <figcaption className="map-title">{title}</figcaption>
      <div className="map-bar" aria-hidden="true">
        {segments.map((s) => (
          <span
            key={s.key}
            className={`map-seg ${s.tone === 'free' ? 'map-free' : `map-tone-${s.tone}`}`}
            style={{ left: `${(s.start / span) * 100}%`, width: `max(3px, ${(s.size / span) * 100}%)` }}
          >
            {s.used !== null && <span className="map-used" style={{ width: `${Math.min(100, (s.used / s.size) * 100)}%` }} />}
          </span>
        ))}
      </div>
      <ul className="map-legend">
        {segments.map((s) => (
          <li key={s.key}>
            <span className={`map-swatch ${s.tone === 'free' ? 'map-free' : `map-tone-${s.tone}`}`} aria-hidden="true" />
            {s.text} <span className="num muted">{formatBytes(s.size)}</span>
            {s.used !== null && <span className="num muted">, {formatBytes(s.used)} used, {formatBytes(Math.max(0, s.size - s.used))} free</span>}
          </li>
        ))}
      </ul>
    </figure>
  );
}
