import type { SourceInfo } from './image-source';
import type { SeekableZstdReader } from './zstd-seekable-reader';

/**
 * Random access to an image's content (formats/byte-source.ts opens one per
 * kind). Its own file so that the sources the opener chooses among can name
 * the type without importing the opener.
 */
export interface ByteSource {
  readonly info: SourceInfo;
  /** How the content is reached, for the user ("seek table", "block index", a backup folder's "piece index", "reading from the start"). */
  readonly access: 'direct' | 'seek-table' | 'block-index' | 'piece-index' | 'sequential';
  /**
   * A seekable .zst: its file and seek table, for a large copy that decodes
   * the frames itself on several threads (jobs/extract-copy.ts).
   */
  readonly seekable?: { file: string; reader: SeekableZstdReader };
  /** What the user should know about speed ("a .gz has no index: reading from the start"), or null. */
  readonly note: string | null;
  /** The content's size, or null while a sequential source has not reached its end. */
  size(): number | null;
  /** The content's size, decoding to the end first when it is not known yet. */
  fullSize(): Promise<number>;
  /** `length` bytes at `offset`; fewer only where the content ends. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ByteSourceOptions {
  /** Sequential sources: decoded bytes so far and the total when known (for progress). */
  onDecodeProgress?: (bytesDone: number, totalBytes: number | null) => void;
  /** Where a sequential source keeps what it decoded (default: the system's temporary folder). */
  cacheDir?: string;
  /** The passphrase of an encrypted backup folder (FOLDER#GEN); not used for anything else. */
  passphrase?: string | null;
}
