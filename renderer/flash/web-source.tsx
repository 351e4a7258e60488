import { formatBytes } from '../../shared/units';
import type { WebChoice } from '../store/web-source-slice';
import { useApp } from '../store/store-context';

/** Beside "Choose image…": an image from a web address, or one from an OS catalogue. Nothing is fetched until one is used. */
export function WebSourceButtons() {
  const urlDialogOpened = useApp((s) => s.urlDialogOpened);
  const catalogueOpened = useApp((s) => s.catalogueOpened);
  return (
    <>
      <button type="button" className="button" onClick={urlDialogOpened}>
        Flash from URL…
      </button>
      <button type="button" className="button" onClick={() => void catalogueOpened()}>
        Choose OS…
      </button>
    </>
  );
}

/** What was chosen from the web, in place of a file's details. */
export function WebSourceSummary({ choice }: { choice: WebChoice }) {
  const webChoiceCleared = useApp((s) => s.webChoiceCleared);
  const e = choice.kind === 'os' ? choice.entry : null;
  const url = choice.kind === 'url' ? choice.url : (e?.url ?? '');
  const checksum = choice.kind === 'url' ? (choice.sha256 ? 'the SHA-256 you gave' : 'one published beside it, if any') : e?.checksum ? "the catalogue's SHA-256" : 'none published';
  return (
    <div className="web-source">
      <dl className="facts" aria-label="Image details">
        <div>
          <dt>Name</dt>
          <dd className="file-name">{choice.name}</dd>
        </div>
        {e && e.folder.length > 0 && (
          <div>
            <dt>Catalogue folder</dt>
            <dd>{e.folder.join(' / ')}</dd>
          </div>
        )}
        <div>
          <dt>Downloaded from</dt>
          <dd className="url">{url}</dd>
        </div>
        {e?.releaseDate && (
          <div>
            <dt>Released</dt>
            <dd className="num">{e.releaseDate}</dd>
          </div>
        )}
        {e?.downloadSize != null && (
          <div>
            <dt>Download</dt>
            <dd className="num">{formatBytes(e.downloadSize)}</dd>
          </div>
        )}
        <div>
          <dt>Uncompressed</dt>
          <dd className="num">{e?.extractSize != null ? formatBytes(e.extractSize) : 'known once the download starts'}</dd>
        </div>
        <div>
          <dt>Checked against</dt>
          <dd>{checksum}</dd>
        </div>
      </dl>
      <button type="button" className="button link-button" onClick={webChoiceCleared}>
        Use a file instead
      </button>
    </div>
  );
}
