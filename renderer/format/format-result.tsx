import { detailsOf, type JobFinishedEvent } from '../../shared/job-events';
import { FS_NAME } from './format-options';

/** What the format made: the filesystem, its label, and the partition that holds it. */
export function FormatResult({ result }: { result: JobFinishedEvent }) {
  const made = detailsOf(result, 'format');
  if (!result.ok || !made) return null;
  return (
    <dl className="facts" aria-label="Made">
      <div>
        <dt>Filesystem</dt>
        <dd>{FS_NAME[made.filesystem]}</dd>
      </div>
      <div>
        <dt>Label</dt>
        <dd>{made.label}</dd>
      </div>
      {made.partition && (
        <div>
          <dt>Partition</dt>
          <dd className="device">{made.partition}</dd>
        </div>
      )}
    </dl>
  );
}
