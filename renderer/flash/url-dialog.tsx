import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useApp } from '../store/store-context';

/**
 * "Flash from URL": the image's address and, optionally, its published
 * SHA-256. Both are checked as the form is sent (web-source.ts); the service
 * checks the address again, with its network policy, when Flash is confirmed.
 */
export function UrlDialog() {
  const w = useApp(useShallow((s) => ({ url: s.web.urlInput, sha: s.web.shaInput, urlError: s.web.urlError, shaError: s.web.shaError })));
  const a = useApp(useShallow((s) => ({ urlTyped: s.urlTyped, shaTyped: s.shaTyped, submitted: s.urlSubmitted, closed: s.webDialogClosed })));
  const ref = useRef<HTMLDialogElement>(null);
  const urlRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    urlRef.current?.focus();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="url-title"
      onCancel={(e) => {
        e.preventDefault();
        a.closed();
      }}
    >
      <h2 id="url-title">Flash from URL</h2>
      <form
        className="url-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          a.submitted();
        }}
      >
        <label htmlFor="image-url">Image address</label>
        <input
          ref={urlRef}
          id="image-url"
          type="url"
          inputMode="url"
          spellCheck={false}
          autoComplete="off"
          placeholder="https://example.org/os.img.xz"
          value={w.url}
          aria-invalid={w.urlError !== null}
          aria-describedby={w.urlError ? 'image-url-error' : 'image-url-hint'}
          onChange={(e) => a.urlTyped(e.target.value)}
        />
        {w.urlError ? (
          <p id="image-url-error" role="alert" className="error">
            {w.urlError}
          </p>
        ) : (
          <p id="image-url-hint" className="muted small">
            Raw, .gz, .xz, .zst, .bz2 or .zip. It is written while it downloads, and a dropped connection is resumed.
          </p>
        )}
        <label htmlFor="image-sha256">SHA-256 (optional)</label>
        <input
          id="image-sha256"
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder="64 hexadecimal digits from the download page"
          value={w.sha}
          aria-invalid={w.shaError !== null}
          aria-describedby={w.shaError ? 'image-sha256-error' : 'image-sha256-hint'}
          onChange={(e) => a.shaTyped(e.target.value)}
        />
        {w.shaError ? (
          <p id="image-sha256-error" role="alert" className="error">
            {w.shaError}
          </p>
        ) : (
          <p id="image-sha256-hint" className="muted small">
            Without it, Imprint looks for URL.sha256 or a SHA256SUMS beside the image.
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" onClick={a.closed}>
            Cancel
          </button>
          <button type="submit" className="button primary">
            Use this URL
          </button>
        </div>
      </form>
    </dialog>
  );
}
