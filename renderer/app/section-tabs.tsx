import { useRef, type KeyboardEvent } from 'react';
import type { Screen } from '../store/ui-slice';
import { useApp } from '../store/store-context';

const SECTIONS: { screen: Screen; label: string }[] = [
  { screen: 'flash', label: 'Flash' },
  { screen: 'backup', label: 'Back up' },
  { screen: 'restore', label: 'Restore' },
  { screen: 'format', label: 'Format' },
];

/** Flash / Back up / Restore / Format as tabs: Tab reaches the chosen one, arrow keys move between them. */
export function SectionTabs() {
  const screen = useApp((s) => s.screen);
  const screenChosen = useApp((s) => s.screenChosen);
  const refs = useRef<(HTMLButtonElement | null)[]>([]);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    const index = SECTIONS.findIndex((s) => s.screen === screen);
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    const jump = e.key === 'Home' ? 0 : e.key === 'End' ? SECTIONS.length - 1 : null;
    if (step === 0 && jump === null) return;
    e.preventDefault();
    const next = jump ?? (index + step + SECTIONS.length) % SECTIONS.length;
    const section = SECTIONS[next];
    if (!section) return;
    screenChosen(section.screen);
    refs.current[next]?.focus();
  }

  return (
    <div className="tabs" role="tablist" aria-label="Sections" onKeyDown={onKeyDown}>
      {SECTIONS.map((s, i) => (
        <button
          key={s.screen}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${s.screen}`}
          aria-controls={`panel-${s.screen}`}
          aria-selected={screen === s.screen}
          tabIndex={screen === s.screen ? 0 : -1}
          className="tab"
          onClick={() => screenChosen(s.screen)}
        >
          {s.label}
        </button>
      ))}
    </div>
  );
}
