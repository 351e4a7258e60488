import type { ReactNode } from 'react';

/** What the step shows and does; the screen that uses it wires its own store slice in. */
export interface FilePathStepProps {
  /** Step number and title in the card's heading, e.g. 1 and "Image". */
  number: number;
  title: string;
  /** id of the heading (names the section) and of the path field (ties it to its label). */
  headingId: string;
  inputId: string;
  /** The path field's label: what tests and screen readers find it by. */
  label: string;
  placeholder: string;
  /** The button that opens the system's file dialog: the first way offered; left out where there is no dialog (browser mode). */
  chooseLabel?: string;
  /** The line between that button and the field, saying what else works. */
  hint: string;
  /** The button that inspects the typed path (also Enter in the field). */
  submitLabel: string;
  pathInput: string;
  /** The path being read, or null: the submit button waits meanwhile. */
  inspecting: string | null;
  notice?: string | null;
  error: { message: string } | null;
  onPathTyped(path: string): void;
  onPathSubmitted(): void;
  onChooseRequested(): void;
  /** Other ways to give the source, shown beside the dialog button (Flash: from a URL, from a catalogue). */
  actions?: ReactNode;
  /** Shown first under the heading (Restore: a file or a backup folder). */
  intro?: ReactNode;
  /** What the file turned out to be, once inspected. */
  children?: ReactNode;
}

/**
 * Step 1 of flash and restore alike: a file given by the dialog or by a typed
 * path, what is happening to it, and what it is. One component, so the two
 * screens behave the same: same keys, same order of controls, same messages.
 */
export function FilePathStep(p: FilePathStepProps) {
  return (
    <section className="card step" aria-labelledby={p.headingId}>
      <h2 id={p.headingId}>
        <span className="step-number">{p.number}</span> {p.title}
      </h2>
      {p.intro}
      <div className="source-actions">
        {p.chooseLabel && (
          <button type="button" className="button" onClick={p.onChooseRequested}>
            {p.chooseLabel}
          </button>
        )}
        {p.actions}
      </div>
      <p className="muted small">{p.hint}</p>
      <form
        className="path-form"
        onSubmit={(e) => {
          e.preventDefault();
          p.onPathSubmitted();
        }}
      >
        <label htmlFor={p.inputId}>{p.label}</label>
        <div className="path-row">
          <input
            id={p.inputId}
            type="text"
            spellCheck={false}
            autoComplete="off"
            placeholder={p.placeholder}
            value={p.pathInput}
            onChange={(e) => p.onPathTyped(e.target.value)}
          />
          <button type="submit" className="button" disabled={p.inspecting !== null}>
            {p.submitLabel}
          </button>
        </div>
      </form>
      {p.inspecting && <p className="muted">Reading {p.inspecting}…</p>}
      {p.notice && <p className="note">{p.notice}</p>}
      {p.error && (
        <p role="alert" className="error">
          {p.error.message}
        </p>
      )}
      {p.children}
    </section>
  );
}
