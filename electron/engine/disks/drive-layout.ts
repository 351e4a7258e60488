import * as fs from 'fs';
import type { FilesystemInfo, PartitionTableInfo } from '../../../shared/backup-metadata';
import { allocAligned, alignDown, alignUp } from '../io/aligned-buffer';
import { readFully } from '../io/full-io';
import type { SourceInfo } from '../formats/image-source';
import { PROBE_BYTES, probeFilesystem } from './filesystem-probe';
import { parsePartitionTable, readFromBuffer, type ReadAt } from './partition-table';

/** What is on a drive or image: its partition table and the filesystems in it. */
export interface DriveLayout {
  partitionTable: PartitionTableInfo | null;
  /** A filesystem on the whole drive, when there is no partition table. */
  filesystem: FilesystemInfo | null;
}

/** Head of an image kept for the partition table: MBR, GPT header and the usual 128 entries fit many times over. */
export const HEAD_BYTES = 1 << 20;

/** Partition table and filesystems, from bytes that `read` can reach anywhere (a drive, a raw image). */
export function layoutFrom(read: ReadAt): DriveLayout {
  const partitionTable = parsePartitionTable(read);
  if (!partitionTable) return { partitionTable: null, filesystem: probeFilesystem(read) };
  for (const p of partitionTable.partitions) {
    if (p.size === 0 || p.typeName === 'Extended' || p.typeName === 'W95 Extended (LBA)' || p.typeName === 'Linux extended') continue;
    p.filesystem = probeFilesystem((offset, length) => (offset >= p.size ? null : read(p.start + offset, Math.min(length, p.size - offset))));
  }
  return { partitionTable, filesystem: null };
}

/**
 * A ReadAt over a file or drive. Drives are read with O_DIRECT (aligned, whole
 * sectors), like every other read of a source drive: nothing enters the page cache.
 */
export function fileReader(fd: number, size: number, direct: boolean): ReadAt {
  return (offset, length) => {
    if (offset >= size) return null;
    const end = Math.min(size, offset + length);
    if (!direct) {
      const buf = Buffer.alloc(end - offset);
      return buf.subarray(0, readFully(fd, buf, 0, buf.length, offset));
    }
    const from = alignDown(offset);
    const to = Math.min(alignUp(end), alignUp(size));
    const buf = allocAligned(to - from);
    const n = readFully(fd, buf, 0, to - from, from);
    return buf.subarray(offset - from, Math.min(n, end - from));
  };
}

/** The layout of a drive or raw image file, by random access. */
export function layoutOfFile(file: string, size: number, isDevice: boolean): DriveLayout {
  const fd = fs.openSync(file, isDevice ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : fs.constants.O_RDONLY);
  try {
    return layoutFrom(fileReader(fd, size, isDevice));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The layout of a compressed image, from one pass over its content: the head
 * gives the partition table; then the stream is read on to each partition's
 * start, keeping PROBE_BYTES there, and stops after the last one.
 */
export function layoutOfStream(info: SourceInfo, signal?: AbortSignal): Promise<DriveLayout> {
  // Loaded here, not at the top: a drive's layout needs no image decoder, and every decoder the
  // formats know loaded for nothing took 50 ms of each backup's and restore's start (35 modules).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openContent } = require('../formats/image-source') as typeof import('../formats/image-source');
  // layoutOfPieces copies what it keeps of each piece before taking the next.
  return layoutOfPieces(openContent(info, { signal, transient: true }));
}

/** layoutOfStream's pass over the content, whatever sizes its pieces come in. */
export async function layoutOfPieces(pieces: AsyncIterable<Buffer>): Promise<DriveLayout> {
  const ranges: { start: number; end: number; bytes: Buffer; filled: number }[] = [];
  const head = { start: 0, end: HEAD_BYTES, bytes: Buffer.alloc(HEAD_BYTES), filled: 0 };
  let pos = 0;
  let table: PartitionTableInfo | null | undefined;
  const wanted = (): typeof ranges => [head, ...ranges];
  /** Copies what `piece` (at stream offset `at`) holds of each range. */
  const keep = (piece: Buffer, at: number, into: typeof ranges): void => {
    for (const r of into) {
      const from = Math.max(r.start, at);
      const to = Math.min(r.end, at + piece.length);
      if (to > from) {
        piece.copy(r.bytes, from - r.start, from - at, to - at);
        r.filled = Math.max(r.filled, to - r.start);
      }
    }
  };
  for await (const piece of pieces) {
    keep(piece, pos, wanted());
    if (table === undefined && pos + piece.length >= HEAD_BYTES) {
      table = parsePartitionTable(readFromBuffer(head.bytes.subarray(0, head.filled)));
      for (const p of table?.partitions ?? []) {
        if (p.size > 0) ranges.push({ start: p.start, end: p.start + Math.min(p.size, PROBE_BYTES), bytes: Buffer.alloc(Math.min(p.size, PROBE_BYTES)), filled: 0 });
      }
      // The piece that completed the head may already hold a partition's start
      // (a decoder's pieces have any size: a pipe's straddle the 1 MiB mark).
      keep(piece, pos, ranges);
    }
    pos += piece.length;
    if (table !== undefined && ranges.every((r) => pos >= r.end)) break;
  }
  const read: ReadAt = (offset, length) => {
    for (const r of wanted()) {
      if (offset >= r.start && offset < r.start + r.filled) return r.bytes.subarray(offset - r.start, Math.min(r.filled, offset - r.start + length));
    }
    return null;
  };
  return layoutFrom(read);
}
