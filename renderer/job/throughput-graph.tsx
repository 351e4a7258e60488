import { formatRate } from '../../shared/units';

const WIDTH = 240;
const HEIGHT = 48;
/** The engine samples about ten times a second (CONVENTIONS: "about ten times a second"). */
const SAMPLES_PER_SECOND = 10;

/** The top of the scale: the peak rounded up to 1, 2 or 5 times a power of ten, so the label reads cleanly. */
export function scaleTop(peak: number): number {
  if (!(peak > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(peak));
  const step = [1, 2, 5, 10].find((m) => m * power >= peak) ?? 10;
  return step * power;
}

/** A live graph of bytesPerSecond samples with its scale: the top rate, zero, and the time it spans. */
export function ThroughputGraph({ samples }: { samples: readonly number[] }) {
  const peak = Math.max(0, ...samples);
  const top = scaleTop(peak);
  const step = samples.length > 1 ? WIDTH / (samples.length - 1) : WIDTH;
  const points = samples.map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - (v / top) * (HEIGHT - 2)).toFixed(1)}`);
  const line = points.join(' ');
  const area = samples.length > 1 ? `0,${HEIGHT} ${line} ${WIDTH},${HEIGHT}` : '';
  const seconds = Math.max(1, Math.round(samples.length / SAMPLES_PER_SECOND));
  return (
    <figure className="graph">
      <div className="graph-y num" aria-hidden="true">
        <span>{formatRate(top)}</span>
        <span>0</span>
      </div>
      <svg
        className="sparkline"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={samples.length > 0 ? `Speed over the last ${seconds} s, peak ${formatRate(peak)}` : 'Speed graph, no data yet'}
      >
        <line className="sparkline-grid" x1="0" x2={WIDTH} y1={HEIGHT / 2} y2={HEIGHT / 2} />
        {area && <polygon className="sparkline-area" points={area} />}
        {samples.length > 1 && <polyline className="sparkline-line" points={line} fill="none" />}
      </svg>
      <figcaption className="graph-x num muted small" aria-hidden="true">
        <span>{seconds} s ago</span>
        <span>now</span>
      </figcaption>
    </figure>
  );
}
