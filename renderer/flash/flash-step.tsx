import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../../shared/units';
import { ConfirmEraseDialog } from '../drives/confirm-erase-dialog';
import { flashTargetsNow } from '../store/flash-slice';
import { flashSourceOf } from '../store/flash-source';
import { useApp } from '../store/store-context';

/** Step 3: what will happen, the Flash button, and the confirmation naming every drive. */
export function FlashStep() {
  const image = useApp(useShallow(flashSourceOf));
  const targets = useApp(useShallow(flashTargetsNow));
  const list = useApp((s) => s.drives.list);
  const confirming = useApp((s) => s.flash.confirming);
  const { flashRequested, flashConfirmed, flashConfirmDismissed } = useApp(
    useShallow((s) => ({ flashRequested: s.flashRequested, flashConfirmed: s.flashConfirmed, flashConfirmDismissed: s.flashConfirmDismissed })),
  );
  const drives = useMemo(() => list.filter((d) => targets.includes(d.device)), [list, targets]);
  const blocker = !image ? 'Choose an image first.' : targets.length === 0 ? 'Choose at least one drive.' : null;
  // The action bar: pinned to the bottom of the window, so Flash is in view whatever the window's height.
  return (
    <section className="action-bar" aria-labelledby="step-flash">
      <h2 id="step-flash">
        <span className="step-number">3</span> Flash
      </h2>
      {blocker ? (
        <p className="muted action-text">{blocker}</p>
      ) : (
        <p className="action-text">
          Writes <strong>{image?.name}</strong>
          {image?.size ? <span className="num"> ({formatBytes(image.size)})</span> : null} to{' '}
          {targets.length === 1 ? targets[0] : `${targets.length} drives`}, then reads every drive back to verify it.
        </p>
      )}
      <button type="button" className="button primary big" disabled={blocker !== null} onClick={flashRequested}>
        Flash
      </button>
      {confirming && image && (
        <ConfirmEraseDialog
          title={drives.length === 1 ? 'Erase this drive?' : `Erase ${drives.length} drives?`}
          what={image.name}
          drives={drives}
          confirmLabel="Erase and flash"
          note={image.note}
          onConfirm={() => void flashConfirmed()}
          onDismiss={flashConfirmDismissed}
        />
      )}
    </section>
  );
}
