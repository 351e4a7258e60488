import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sidecarPathOf } from '../../../shared/backup-metadata';
import { ImprintError, errnoOf } from '../errors';
import { fsyncChecked, writeFully } from '../io/full-io';
import { encodeEmbeddedMetadata, writeMetadataFile } from '../formats/backup-metadata';
import { SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { PooledFrameWriter } from '../pipelines/pooled-frame-writer';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { resolveGeneration } from '../formats/backup-folder/generation-index';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';
import { decodeFolderChunks, type StoredChunk } from '../pipelines/stored-chunks';
import { zeroGaps } from '../disks/byte-ranges';
import type { BackupStorage } from '../../../shared/backup-metadata';
import { recordedCrcs } from './smart-restore';
import { fsyncDir, removeQuietly, PARTIAL_SUFFIX } from './backup-output';
import { parseFolderRef } from './folder-restore-job';
import { whileReading } from '../formats/backup-folder/folder-readers';

/**
 * `imprint backups export FOLDER#GEN OUT.img.zst`: one generation as an
 * ordinary standalone smart backup, the same file `imprint backup DRIVE
 * OUT.img.zst` makes (seekable zstd, the metadata inside and in OUT.json),
 * so a backup folder never locks anyone in: `imprint restore`, `zstd -dc`
 * and every other reader of a smart backup take it. Every piece is checked
 * against its name and every 4 MiB chunk against the CRC-32 the generation
 * recorded before it is compressed (as a restore checks them), and the file
 * gets its name only once all of it is written and fsynced.
 */

/** Compression threads: one per core, up to 4 (the restore's decoding threads run beside them). */
const EXPORT_THREADS = Math.max(1, Math.min(4, os.availableParallelism()));

export interface ExportResult {
  output: string;
  sidecar: string;
  generation: string;
  size: number;
  fileBytes: number;
  sha256: string;
}

/** `opts.passphrase`: of an encrypted folder; the exported file is a plain standard one (a copy in clear: put it somewhere safe). */
export async function exportGeneration(ref: string, output: string, opts: { force?: boolean; signal?: AbortSignal; passphrase?: string | null } = {}): Promise<ExportResult> {
  const parsed = parseFolderRef(ref);
  if (!parsed) throw new ImprintError('E_SOURCE_NOT_FOUND', `${ref} is not a backup folder.`);
  // The passphrase is checked before the reader's mark is written: a wrong one leaves the folder as it was.
  const keys = unlockFolder(parsed.folder, opts.passphrase);
  const folder = parsed.folder;
  return whileReading(folder, `an export from ${folder}`, () => exportHeld(folder, parsed.generation, keys, output, opts));
}

async function exportHeld(folder: string, generation: string | undefined, keys: FolderKeys | null, output: string, opts: { force?: boolean; signal?: AbortSignal }): Promise<ExportResult> {
  const index = resolveGeneration(folder, generation, keys);
  const m = index.metadata;
  const out = path.resolve(output);
  const sidecar = sidecarPathOf(out);
  if (!opts.force && (fs.existsSync(out) || fs.existsSync(sidecar))) throw new ImprintError('E_OUTPUT_EXISTS', `${output} (or its ${path.basename(sidecar)}) already exists; pass --force to replace it.`);
  const partial = out + PARTIAL_SUFFIX;
  const sidecarPartial = sidecar + PARTIAL_SUFFIX;
  let done = false;
  const fd = fs.openSync(partial, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    let written = 0;
    const writer = new SeekableZstdWriter((bytes) => {
      writeFully(fd, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), written);
      written += bytes.byteLength;
    }, { level: m.compressionLevel ?? 3 });
    await writeContent(folder, index, keys, writer, opts.signal);
    const trailer = encodeEmbeddedMetadata('zstd', m);
    if (trailer) writer.appendSkippable(trailer);
    writer.finish();
    fsyncChecked(fd);
    writeMetadataFile(sidecarPartial, m);
    fs.renameSync(sidecarPartial, sidecar);
    fs.renameSync(partial, out);
    fsyncDir(path.dirname(out));
    done = true;
    return { output: out, sidecar, generation: index.id, size: m.size, fileBytes: written, sha256: m.sha256 };
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new ImprintError('E_NO_SPACE', `The disk holding ${output} is full; nothing was exported.`, { cause: err });
    // The decoding threads word a damaged piece or chunk for a restore; an export has no partition table to speak of.
    if (err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE') {
      throw new ImprintError('E_CORRUPT_SOURCE', `${err.message.replace(/\s*The drive's partition table was not written\.$/, '')} Generation ${index.id} cannot be exported: nothing was exported.`, { cause: err, ...(err.offset === undefined ? {} : { offset: err.offset }) });
    }
    throw err;
  } finally {
    fs.closeSync(fd);
    if (!done) {
      removeQuietly(partial);
      removeQuietly(sidecarPartial);
    }
  }
}

/**
 * The generation's drive content, as a smart backup's file holds it, into
 * `writer`: the stored chunks decoded on the restore's threads
 * (pipelines/stored-chunks.ts's decodeFolderChunks: each piece checked
 * against its name, each chunk's CRC-32 against the one the generation
 * recorded, before it is handed on), what lies between their stored ranges
 * zeroed, chunks it stored nothing of as zero frames, and every frame
 * compressed on a pool of threads (pipelines/pooled-frame-writer.ts).
 * Chunks come in drive order, but the decoder hands on the next without
 * waiting for the last one's promise: `tail` takes them one after the other.
 */
async function writeContent(folder: string, index: GenerationIndex, keys: FolderKeys | null, writer: SeekableZstdWriter, signal?: AbortSignal): Promise<void> {
  const m = index.metadata;
  const storage = m.storage as BackupStorage;
  const frames = new PooledFrameWriter(writer, m.compressionLevel ?? 3, EXPORT_THREADS);
  let at = 0;
  let failure: unknown = null;
  let tail = Promise.resolve();
  const take = async (chunk: StoredChunk): Promise<void> => {
    if (failure !== null) return;
    try {
      if (chunk.at > at) await frames.writeZeros(chunk.at - at);
      zeroGaps(chunk.buf, chunk.at, chunk.buf.length, chunk.parts);
      await frames.write(chunk.buf);
      at = chunk.at + chunk.buf.length;
    } catch (err) {
      failure ??= err;
    }
  };
  try {
    const checked = await decodeFolderChunks(folder, index, { crcs: true, keys })(storage, recordedCrcs(storage), m.size, { ...(signal ? { signal } : {}) }, (chunk) => (tail = tail.then(() => take(chunk))));
    await tail;
    if (failure !== null) throw failure;
    if (!checked?.crcsChecked) throw new ImprintError('E_INTERNAL', 'An export was decoded without its chunks checked.');
    if (at < m.size) await frames.writeZeros(m.size - at);
    await frames.finish();
  } finally {
    await frames.close();
  }
}
