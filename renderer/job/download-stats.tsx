import type { JobView } from '../store/job-view';
import { formatBytes } from '../../shared/units';

const BOTTLENECK: Record<string, string> = { network: 'the network', decompression: 'decompression', drive: 'the drive' };

/**
 * A flash from the web: downloaded, written and verified bytes side by side
 * (the three move at once while an image is decoded as it arrives), and
 * which stage sets the pace, as the engine measures it.
 */
export function DownloadStats({ job }: { job: Pick<JobView, 'download' | 'bottleneck' | 'targets'> }) {
  const d = job.download;
  if (!d) return null;
  // The slowest drive is the one that says how far the flash is.
  const written = job.targets.length > 0 ? Math.min(...job.targets.map((t) => t.bytesWritten)) : 0;
  const verified = job.targets.length > 0 ? Math.min(...job.targets.map((t) => t.bytesVerified)) : 0;
  return (
    <dl className="stats download-stats" aria-label="Download">
      <div>
        <dt>Downloaded</dt>
        <dd className="num">
          {d.cached ? 'from the cache' : `${formatBytes(d.downloadedBytes)}${d.totalBytes ? ` of ${formatBytes(d.totalBytes)}` : ''}`}
        </dd>
      </div>
      <div>
        <dt>Written</dt>
        <dd className="num">{formatBytes(written)}</dd>
      </div>
      <div>
        <dt>Verified</dt>
        <dd className="num">{formatBytes(verified)}</dd>
      </div>
      <div>
        <dt>Held up by</dt>
        <dd>{d.retrying ? 'reconnecting…' : job.bottleneck ? BOTTLENECK[job.bottleneck] : '—'}</dd>
      </div>
      {d.attempts > 1 && (
        <div>
          <dt>Connections</dt>
          <dd className="num">{d.attempts}</dd>
        </div>
      )}
    </dl>
  );
}
