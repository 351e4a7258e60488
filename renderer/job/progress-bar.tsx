import { formatBytes } from '../../shared/units';

interface Props {
  label: string;
  percent: number | null;
  bytesDone: number;
  totalBytes: number | null;
}

/** A progressbar with its value for assistive tech; indeterminate when the total is unknown. */
export function ProgressBar({ label, percent, bytesDone, totalBytes }: Props) {
  const text =
    percent === null
      ? `${formatBytes(bytesDone)} done`
      : `${percent}% (${formatBytes(bytesDone)} of ${formatBytes(totalBytes ?? 0)})`;
  return (
    <div
      className={`progress${percent === null ? ' is-indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent ?? undefined}
      aria-valuetext={text}
    >
      <div className="progress-fill" style={{ width: percent === null ? undefined : `${percent}%` }} />
    </div>
  );
}
