import { useShallow } from 'zustand/react/shallow';
import { useApp } from '../store/store-context';
import { ImageSummary } from './image-summary';

/** Step 1: choose the image (dialog, drop, or a typed path) and see what it is. */
export function ImageStep() {
  const { pathInput, details, inspecting, error, notice } = useApp(
    useShallow((s) => ({
      pathInput: s.image.pathInput,
      details: s.image.details,
      inspecting: s.image.inspecting,
      error: s.image.error,
      notice: s.image.notice,
    })),
  );
  const imageChooseRequested = useApp((s) => s.imageChooseRequested);
  const imagePathTyped = useApp((s) => s.imagePathTyped);
  const imagePathSubmitted = useApp((s) => s.imagePathSubmitted);
  return (
    <section className="card step" aria-labelledby="step-image">
      <h2 id="step-image">
        <span className="step-number">1</span> Image
      </h2>
      <button type="button" className="button" onClick={() => void imageChooseRequested()}>
        Choose image…
      </button>
      <p className="muted small">or drop an image file anywhere on this window, or type its path:</p>
      <form
        className="path-form"
        onSubmit={(e) => {
          e.preventDefault();
          void imagePathSubmitted();
        }}
      >
        <label htmlFor="image-path">Image path</label>
        <div className="path-row">
          <input
            id="image-path"
            type="text"
            spellCheck={false}
            autoComplete="off"
            placeholder="/home/me/Downloads/os.img.xz"
            value={pathInput}
            onChange={(e) => imagePathTyped(e.target.value)}
          />
          <button type="submit" className="button" disabled={inspecting !== null}>
            Use path
          </button>
        </div>
      </form>
      {inspecting && <p className="muted">Reading {inspecting}…</p>}
      {notice && <p className="note">{notice}</p>}
      {error && (
        <p role="alert" className="error">
          {error.message}
        </p>
      )}
      {details && <ImageSummary image={details} />}
    </section>
  );
}
