import type { ImageDetails } from '../../shared/ipc-contract';
import { formatBytes } from '../../shared/units';

const TABLE: Record<string, string> = { mbr: 'MBR (DOS)', gpt: 'GPT' };

/** What Imprint found out about an image, before anything is written. */
export function ImageSummary({ image }: { image: ImageDetails }) {
  return (
    <dl className="facts" aria-label="Image details">
      <div>
        <dt>Name</dt>
        <dd className="file-name" title={image.path}>
          {image.name}
        </dd>
      </div>
      <div>
        <dt>Format</dt>
        <dd>{image.formatLabel || image.format}</dd>
      </div>
      <div>
        <dt>File size</dt>
        <dd className="num">{formatBytes(image.fileSize)}</dd>
      </div>
      <div>
        <dt>Uncompressed</dt>
        <dd className="num">{image.size === null ? 'unknown' : formatBytes(image.size)}</dd>
      </div>
      <div>
        <dt>Partition table</dt>
        <dd>{image.partitionTable ? TABLE[image.partitionTable] : 'none found'}</dd>
      </div>
    </dl>
  );
}
