import { useShallow } from 'zustand/react/shallow';
import { DriveList } from '../drives/drive-list';
import { useTargetOptions } from '../drives/use-drive-options';
import { flashSourceFacts } from '../store/flash-source';
import { useApp } from '../store/store-context';

/** Step 2: the drives to write, several allowed; refused ones disabled with the reason shown. */
export function TargetsStep() {
  const selected = useApp((s) => s.targets.selected);
  const targetToggled = useApp((s) => s.targetToggled);
  const options = useTargetOptions(useApp(useShallow(flashSourceFacts)));
  return (
    <section className="card step" aria-labelledby="step-targets">
      <h2 id="step-targets">
        <span className="step-number">2</span> Drives
      </h2>
      <DriveList use="write" legend="Drives to write" kind="checkbox" group="flash-target" options={options} selected={selected} onToggle={targetToggled} />
    </section>
  );
}
