import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sidecarPathOf } from '../../../shared/backup-metadata';
import { ImprintError, errnoOf } from '../errors';
import { fsyncChecked, writeFully } from '../io/full-io';
import { RangeCursor } from '../disks/byte-ranges';
import { encodeEmbeddedMetadata, writeMetadataFile } from '../formats/backup-metadata';
import { SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { PooledFrameWriter } from '../pipelines/pooled-frame-writer';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { resolveGeneration } from '../formats/backup-folder/generation-index';
import { generationContent } from '../formats/backup-folder/generation-content';
import { fsyncDir, removeQuietly, PARTIAL_SUFFIX } from './backup-output';
import { parseFolderRef } from './folder-restore-job';
import { whileReading } from '../formats/backup-folder/folder-readers';

/**
 * `imprint backups export FOLDER#GEN OUT.img.zst`: one generation as an
 * ordinary standalone smart backup, the same file `imprint backup DRIVE
 * OUT.img.zst` makes (seekable zstd, the metadata inside and in OUT.json),
 * so a backup folder never locks anyone in: `imprint restore`, `zstd -dc`
 * and every other reader of a smart backup take it. The stored data is
 * checked against the generation's SHA-256 before the file gets its name.
 */

/** Compression threads: one per core, up to 4 (the pieces are read and decoded on the calling thread beside them). */
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
    // The SHA-256 a smart backup records: of the stored ranges, in drive order.
    const hash = crypto.createHash('sha256');
    const cursor = new RangeCursor((m.storage?.ranges ?? [[0, m.size]]).map(([start, length]) => ({ start, length })));
    let at = 0;
    // Pieces are read, checked and decoded here; frames are compressed on other threads meanwhile.
    const frames = new PooledFrameWriter(writer, m.compressionLevel ?? 3, EXPORT_THREADS);
    try {
      for await (const buf of generationContent(folder, index, opts.signal, keys)) {
        for (const p of cursor.clip(at, at + buf.length)) hash.update(buf.subarray(p.start - at, p.start - at + p.length));
        await frames.write(buf);
        at += buf.length;
      }
      await frames.finish();
    } finally {
      await frames.close();
    }
    const sha256 = hash.digest('hex');
    if (at !== m.size || sha256 !== m.sha256) {
      throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${index.id} of ${folder} does not add up to the data it recorded (SHA-256 ${sha256}, recorded ${m.sha256}); nothing was exported.`);
    }
    const trailer = encodeEmbeddedMetadata('zstd', m);
    if (trailer) writer.appendSkippable(trailer);
    writer.finish();
    fsyncChecked(fd);
    writeMetadataFile(sidecarPartial, m);
    fs.renameSync(sidecarPartial, sidecar);
    fs.renameSync(partial, out);
    fsyncDir(path.dirname(out));
    done = true;
    return { output: out, sidecar, generation: index.id, size: m.size, fileBytes: written, sha256 };
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new ImprintError('E_NO_SPACE', `The disk holding ${output} is full; nothing was exported.`, { cause: err });
    throw err;
  } finally {
    fs.closeSync(fd);
    if (!done) {
      removeQuietly(partial);
      removeQuietly(sidecarPartial);
    }
  }
}
