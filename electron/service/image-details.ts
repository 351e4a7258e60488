import * as path from 'path';
import { unknownSizeNote } from '../../shared/drive-constraints';
import type { ImageDetails, PartitionTableType } from '../../shared/ipc-contract';
import { parsePartitionTable, readFromBuffer } from '../engine/disks/partition-table';
import type { DecoderChoice } from '../engine/formats/image-kind';
import { describeSource, inspectSource, openContent, type SourceInfo } from '../engine/formats/image-source';

/**
 * Bytes of content read to find the partition table: the MBR (sector 0) and
 * a GPT header at 512 or, with 4 KiB sectors, at 4096.
 */
export const HEAD_BYTES = 8192;

/** What the UI shows about an image once chosen: format, sizes, partition table. */
export async function inspectImageDetails(file: string, decoders?: DecoderChoice): Promise<ImageDetails> {
  const source = await inspectSource(file, { decoders });
  return {
    path: source.path,
    name: path.basename(source.path),
    format: source.format,
    formatLabel: describeSource(source),
    fileSize: source.fileSize,
    size: source.size,
    minSize: source.minSize ?? null,
    sizeNote: unknownSizeNote({ path: source.path, size: source.size, minSize: source.minSize ?? null }),
    partitionTable: await partitionTableOf(source),
  };
}

/**
 * The partition-table type from the first bytes of the image's content
 * (decompressed as far as needed). Null when there is none, or when the head
 * cannot be read: a corrupt stream is reported when flashing, not here.
 */
export async function partitionTableOf(source: SourceInfo): Promise<PartitionTableType> {
  let head: Buffer;
  try {
    head = await readHead(source, HEAD_BYTES);
  } catch {
    return null;
  }
  return parsePartitionTable(readFromBuffer(head))?.type ?? null;
}

/** Up to `length` bytes from the start of the content; stops decoding as soon as it has them. */
async function readHead(source: SourceInfo, length: number): Promise<Buffer> {
  const controller = new AbortController();
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of openContent(source, { signal: controller.signal })) {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= length) break;
    }
  } finally {
    // Breaking out ends the generator; aborting also stops decoders that run ahead in workers.
    controller.abort();
  }
  return Buffer.concat(chunks).subarray(0, length);
}
