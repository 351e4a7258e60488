import { formatRate } from '../../shared/units';

const WIDTH = 240;
const HEIGHT = 48;

/** A small live sparkline of bytesPerSecond samples (about ten a second). */
export function ThroughputGraph({ samples }: { samples: readonly number[] }) {
  const peak = Math.max(1, ...samples);
  const step = samples.length > 1 ? WIDTH / (samples.length - 1) : WIDTH;
  const points = samples.map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - (v / peak) * (HEIGHT - 2)).toFixed(1)}`);
  const line = points.join(' ');
  const area = samples.length > 1 ? `0,${HEIGHT} ${line} ${WIDTH},${HEIGHT}` : '';
  return (
    <svg
      className="sparkline"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={samples.length > 0 ? `Throughput graph, peak ${formatRate(peak)}` : 'Throughput graph, no data yet'}
    >
      {area && <polygon className="sparkline-area" points={area} />}
      {samples.length > 1 && <polyline className="sparkline-line" points={line} fill="none" />}
    </svg>
  );
}
