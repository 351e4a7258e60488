import { useApp } from '../store/store-context';
import { DriveMap, type MapData } from './drive-map';

/** The map of a drive or image the store has read (layoutRequested), or what stands in for it meanwhile. */
export function LayoutMap({ path, title, usedBytes }: { path: string; title: string; usedBytes?: MapData['usedBytes'] }) {
  const entry = useApp((s) => s.layouts[path]);
  if (!entry) return null;
  if (entry.layout) return <DriveMap title={title} map={usedBytes ? { ...entry.layout, usedBytes } : entry.layout} />;
  if (entry.status === 'loading') return <p className="muted small">Reading the partitions of {path}…</p>;
  return <p className="muted small">No drive map: {entry.error}</p>;
}
