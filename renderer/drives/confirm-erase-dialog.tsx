import { useEffect, useRef } from 'react';
import type { Drive } from '../../shared/drive';
import { isLarge, LARGE_DRIVE_BYTES } from '../../shared/drive-constraints';
import { formatBytes } from '../../shared/units';
import { readableDescription } from './drive-names';
import { HeldLabels } from './drive-partitions';

interface Props {
  title: string;
  /** What will be written, e.g. "ubuntu.img". */
  what: string;
  drives: Drive[];
  confirmLabel: string;
  /** A fact about the source the person should weigh (an image whose size is unknown until decompressed). */
  note?: string | null;
  onConfirm(): void;
  onDismiss(): void;
}

/**
 * The last stop before erasing: a modal dialog naming every drive. Focus
 * starts on "Cancel" so Enter does not erase by accident; Escape dismisses.
 */
export function ConfirmEraseDialog({ title, what, drives, confirmLabel, note, onConfirm, onDismiss }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    cancelRef.current?.focus();
    return () => dialog?.close();
  }, []);
  const large = drives.filter(isLarge);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onCancel={(e) => {
        e.preventDefault();
        onDismiss();
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <div id="confirm-body">
        <p>
          Everything on {drives.length === 1 ? 'this drive' : `these ${drives.length} drives`} will be erased and replaced
          by <strong>{what}</strong>. This cannot be undone.
        </p>
        <ul className="erase-list">
          {drives.map((d) => (
            <li key={d.device}>
              <span className="device">{d.device}</span> <span>{readableDescription(d.description)}</span>{' '}
              <span className="num muted">{formatBytes(d.size)}</span>
              <HeldLabels drive={d} />
            </li>
          ))}
        </ul>
        {note && <p className="note">{note}</p>}
        {large.length > 0 && (
          <p className="danger" role="alert">
            {large.map((d) => d.device).join(', ')} {large.length === 1 ? 'is' : 'are'} larger than{' '}
            {formatBytes(LARGE_DRIVE_BYTES)}: that is rarely a USB stick or SD card, and often a disk holding your files.
            Check the model and size before you go on.
          </p>
        )}
      </div>
      <div className="actions">
        <button ref={cancelRef} type="button" className="button" onClick={onDismiss}>
          Cancel
        </button>
        <button type="button" className="button danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
