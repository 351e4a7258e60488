import { JobPanel } from '../job/job-panel';
import { baseName } from '../job/job-facts';
import { useApp } from '../store/store-context';
import { FlashStep } from './flash-step';
import { ImageStep } from './image-step';
import { TargetsStep } from './targets-step';
import { useWindowDrop } from './use-window-drop';

/** Flash: image, drives, flash on one screen; the job's progress and verdict replace them while it runs. */
export function FlashScreen() {
  const status = useApp((s) => s.flash.job.status);
  // After a reload the form is empty: the job itself says what it writes.
  const imageName = useApp((s) => baseName(s.flash.job.source) ?? s.image.details?.name ?? 'image');
  const imageDropped = useApp((s) => s.imageDropped);
  const newFlashRequested = useApp((s) => s.newFlashRequested);
  const dragging = useWindowDrop(imageDropped);
  if (status !== 'idle') {
    return (
      <JobPanel slot="flash" title={`Flashing ${imageName}`} doneTitle={`Flash of ${imageName}`} againLabel="Flash another" onAgain={newFlashRequested} />
    );
  }
  return (
    <>
      <div className={`steps${dragging ? ' is-dragging' : ''}`}>
        <ImageStep />
        <TargetsStep />
        {dragging && (
          <div className="drop-hint" aria-hidden="true">
            Drop the image to use it
          </div>
        )}
      </div>
      <FlashStep />
    </>
  );
}
