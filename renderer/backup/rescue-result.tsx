import { formatBytes } from '../../shared/units';
import { useApp } from '../store/store-context';
import type { RescueOutcome } from './backup-outcome';

/** After a backup failed on unreadable sectors: rescue mode saves what can still be read. */
export function RescueOffer() {
  const rescueRequested = useApp((s) => s.rescueRequested);
  return (
    <section className="result rescue-offer" aria-label="Rescue">
      <p role="alert" className="warning">
        The drive has unreadable sectors; rescue what can be read?
      </p>
      <p className="note">
        Rescue mode saves every sector that can still be read into a raw image (zeros where nothing could be read) with a map of the unreadable areas.
      </p>
      <button type="button" className="button primary" onClick={() => void rescueRequested()}>
        Rescue what can be read
      </button>
    </section>
  );
}

/** What a rescue saved, what is lost, and where (the first few bad areas; the map has them all). */
export function RescueResult({ rescue }: { rescue: RescueOutcome }) {
  const revealRequested = useApp((s) => s.revealRequested);
  const nativeDialogs = useApp((s) => s.nativeDialogs);
  const notice = useApp((s) => s.backup.notice);
  const more = rescue.badAreaCount - rescue.badAreas.length;
  return (
    <div className="result">
      <dl className="facts" aria-label="Rescue">
        <div>
          <dt>Rescued</dt>
          <dd className="num">{formatBytes(rescue.rescuedBytes)}</dd>
        </div>
        <div>
          <dt>Lost</dt>
          <dd className="num">{formatBytes(rescue.lostBytes)}</dd>
        </div>
        <div>
          <dt>File</dt>
          <dd className="file-name">{rescue.file ?? 'unknown'}</dd>
        </div>
        {rescue.mapfile && (
          <div>
            <dt>Map</dt>
            <dd className="file-name">{rescue.mapfile}</dd>
          </div>
        )}
      </dl>
      {rescue.badAreas.length > 0 && (
        <ul aria-label="Unreadable areas" className="bad-areas">
          {rescue.badAreas.map((a) => (
            <li key={a.offset} className="num">
              {formatBytes(a.length)} at {formatBytes(a.offset)} (byte {a.offset})
            </li>
          ))}
          {more > 0 && <li>… and {more} more (listed in the map)</li>}
        </ul>
      )}
      {rescue.file && nativeDialogs && (
        <button type="button" className="button" onClick={() => void revealRequested(rescue.file as string)}>
          Show in folder
        </button>
      )}
      {notice && <p className="note">{notice}</p>}
    </div>
  );
}
