import type { CatalogueItemView } from '../../shared/web-source';
import { formatBytes } from '../../shared/units';

interface Props {
  item: CatalogueItemView;
  /** Searching lists images from every folder: each says which it is in. */
  showFolder: boolean;
  onOpen(item: CatalogueItemView): void;
}

/** One row of the catalogue: icon (data the service fetched), name, description, release date and sizes; a folder opens, an image is chosen. */
export function CatalogueItem({ item, showFolder, onOpen }: Props) {
  const facts =
    item.kind === 'image'
      ? [
          item.releaseDate ? `Released ${item.releaseDate}` : null,
          item.downloadSize !== null ? `download ${formatBytes(item.downloadSize)}` : null,
          item.extractSize !== null ? `image ${formatBytes(item.extractSize)}` : null,
        ].filter((f): f is string => f !== null)
      : [];
  return (
    <li>
      <button type="button" className="catalogue-entry" onClick={() => onOpen(item)}>
        {item.icon ? <img className="catalogue-icon" src={item.icon} alt="" width={40} height={40} /> : <span className="catalogue-icon is-blank" aria-hidden="true" />}
        <span className="catalogue-text">
          <span className="catalogue-name">
            {item.name}
            {item.kind === 'folder' && (
              <>
                <span aria-hidden="true"> ›</span>
                <span className="visually-hidden"> (folder)</span>
              </>
            )}
          </span>
          {showFolder && item.folder.length > 0 && <span className="catalogue-meta">in {item.folder.join(' / ')}</span>}
          {item.description && <span className="catalogue-description">{item.description}</span>}
          {facts.length > 0 && <span className="catalogue-meta num">{facts.join(' · ')}</span>}
        </span>
      </button>
    </li>
  );
}
