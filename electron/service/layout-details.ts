import type { LayoutDetails } from '../../shared/ipc-contract';
import { inspectImageOrBackup } from '../engine/jobs/image-info';

/**
 * A drive's or an image's partitions and filesystems, for the drive map: the
 * engine's `imprint info` (a drive is read with O_DIRECT, a raw image by
 * random access, a backup from its recorded layout, another compressed image
 * up to its last partition's start).
 */
export async function inspectLayoutDetails(file: string): Promise<LayoutDetails> {
  // Aborted once read: a decoder that runs ahead in a worker stops with the stream, instead of
  // decoding the rest of the image beside a flash that needs the CPU.
  const controller = new AbortController();
  let report;
  try {
    report = await inspectImageOrBackup(file, controller.signal);
  } finally {
    controller.abort();
  }
  const table = report.layout.partitionTable;
  return {
    path: report.path,
    size: report.size,
    partitionTable: table?.type ?? null,
    partitions: table?.partitions ?? [],
    filesystem: report.layout.filesystem,
  };
}
