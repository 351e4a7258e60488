import { useShallow } from 'zustand/react/shallow';
import { FAT32_MAX_DRIVE_BYTES } from '../../shared/format-rules';
import { formatFilesystemNow, formatLabelProblem, type FormatChoice } from '../store/format-slice';
import { useApp } from '../store/store-context';

/** How each filesystem is named on screen. */
export const FS_NAME = { fat32: 'FAT32', exfat: 'exFAT' } as const;

const CHOICES: { value: FormatChoice; label: string; why: string }[] = [
  { value: 'auto', label: 'Automatic', why: `FAT32 up to ${FAT32_MAX_DRIVE_BYTES / 1024 ** 3} GiB, exFAT above, as Windows chooses.` },
  { value: 'fat32', label: 'FAT32', why: 'Read by almost everything: cameras, TVs, car radios, old systems. Files up to 4 GB.' },
  { value: 'exfat', label: 'exFAT', why: 'Large files; read by current Windows, macOS and Linux.' },
];

/** Step 2: the filesystem to make and the name the drive will show, checked as it is typed. */
export function FormatOptions() {
  const { filesystem, label, locked } = useApp(useShallow((s) => ({ filesystem: s.format.filesystem, label: s.format.label, locked: s.format.confirming })));
  const made = useApp(formatFilesystemNow);
  const problem = useApp(formatLabelProblem);
  const { formatFilesystemChosen, formatLabelTyped } = useApp(useShallow((s) => ({ formatFilesystemChosen: s.formatFilesystemChosen, formatLabelTyped: s.formatLabelTyped })));
  return (
    <section className="card step" aria-labelledby="step-format-options">
      <h2 id="step-format-options">
        <span className="step-number">2</span> Filesystem and label
      </h2>
      <fieldset className="mode-choice">
        <legend>Filesystem</legend>
        {CHOICES.map((c) => (
          <div key={c.value}>
            <label className="check">
              <input
                type="radio"
                name="format-filesystem"
                value={c.value}
                checked={filesystem === c.value}
                disabled={locked}
                aria-describedby={`format-fs-${c.value}-why`}
                onChange={() => formatFilesystemChosen(c.value)}
              />
              {c.label}
            </label>
            <p id={`format-fs-${c.value}-why`} className="muted small tight">
              {c.why}
              {c.value === 'auto' && filesystem === 'auto' && made ? ` This drive gets ${FS_NAME[made]}.` : ''}
            </p>
          </div>
        ))}
      </fieldset>
      <div className="path-form format-label">
        <label htmlFor="format-label">Label</label>
        <input
          id="format-label"
          type="text"
          spellCheck={false}
          autoComplete="off"
          value={label}
          disabled={locked}
          aria-invalid={problem !== null}
          aria-describedby="format-label-why"
          onChange={(e) => formatLabelTyped(e.target.value)}
        />
        <p id="format-label-why" className={problem ? 'error' : 'muted small tight'}>
          {problem ?? (made === 'exfat' ? 'The name the drive shows: up to 15 characters.' : 'The name the drive shows: up to 11 letters, digits or spaces; stored in capitals on FAT32.')}
        </p>
      </div>
    </section>
  );
}
