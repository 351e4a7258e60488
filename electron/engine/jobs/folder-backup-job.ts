import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { BackupMetadata } from '../../../shared/backup-metadata';
import type { FolderBackupJobDetails, JobFinishedEvent, TargetProgress } from '../../../shared/job-events';
import { ImprintError, errnoOf, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { disksHoldingFile, sameDevice } from '../io/block-device';
import { chunkCrc } from '../io/chunk-crc';
import { readChunkAt } from '../io/chunk-reader';
import { RangeCursor } from '../disks/byte-ranges';
import { layoutOfFile, type DriveLayout } from '../disks/drive-layout';
import { planDriveStorage, storageWarnings, type StoragePlan } from '../disks/storage-plan';
import { inspectSourceDrive, mountedWarning, type SourceDrive } from '../drives/source-drive';
import { imprintVersion } from '../formats/backup-metadata';
import { FolderKeys, type FolderEncryption } from '../formats/backup-folder/folder-crypto';
import { keysFor, unlockFolder } from '../formats/backup-folder/folder-keys';
import { MARKER_FILE, claimFolder, clearTmp, ensureMarker, holdsForeignFiles } from '../formats/backup-folder/folder-layout';
import { lockFolder } from '../formats/backup-folder/folder-lock';
import { generationIds, newGenerationId, removeOrphanNames, writeGeneration } from '../formats/backup-folder/generation-index';
import { NAME_BYTES, NameSet } from '../formats/backup-folder/name-set';
import { PieceListBuilder, type PieceList } from '../formats/backup-folder/piece-list';
import { PieceWriter } from '../formats/backup-folder/piece-store';
import { allocationWarning } from '../formats/backup-folder/piece-allocation';
import { cutRanges } from '../formats/backup-folder/piece-list';
import { CHUNK_SIZE } from '../pipelines/chunk-size';
import { JobReporter, type EventSink } from './job-reporter';

/**
 * A backup into a backup folder (docs/backup-folder.md): the drive's stored
 * ranges, as a smart backup plans them, cut into pieces at fixed drive
 * offsets; each piece the folder does not hold yet is compressed and stored
 * under its SHA-256; then the generation's index is written, last. A cancel,
 * a crash or a full disk before that leaves no generation, only pieces no
 * index names (the next backup reuses them).
 */

export interface FolderBackupRequest {
  device: string;
  folder: string;
  /** zstd level of new pieces. */
  level?: number;
  /** Drive bytes per piece for a new folder (an existing folder keeps its own). Measurements and tests only. */
  pieceSize?: number;
  /** Make a new folder encrypted (an existing one stays what it was made: this refuses a plain one). */
  encrypt?: boolean;
  /** The passphrase: of the new folder with `encrypt`, or of an existing encrypted folder. */
  passphrase?: string | null;
}

/** How the pieces and index of this backup are named and sealed. */
interface FolderSecrets {
  encrypt: boolean;
  passphrase: string | null;
  /** The folder's keys (null: plain), and the record they were checked against or made with. */
  keys: FolderKeys | null;
  record: FolderEncryption | null;
}

export interface PreparedFolderBackup {
  drive: SourceDrive;
  folder: string;
  level: number;
  pieceSize: number | undefined;
  secrets: FolderSecrets;
  layout: DriveLayout;
  storage: StoragePlan;
  warnings: string[];
  notes: string[];
}

export interface FolderBackupRunOptions {
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
}

/** Checks the drive and the folder and plans what to read; writes nothing. */
export async function prepareFolderBackup(req: FolderBackupRequest): Promise<PreparedFolderBackup> {
  const drive = await inspectSourceDrive(req.device);
  const folder = path.resolve(req.folder);
  if (fs.existsSync(folder)) {
    if (!fs.statSync(folder).isDirectory()) throw new ImprintError('E_BAD_ARGUMENTS', `${req.folder} is a file, not a folder. --into takes a backup folder (new or existing).`);
    if (holdsForeignFiles(folder)) {
      throw new ImprintError('E_OUTPUT_EXISTS', `${req.folder} is not empty and is not an Imprint backup folder: give a new or empty folder (backups never mix with other files).`);
    }
  } else if (!fs.existsSync(path.dirname(folder))) {
    throw new ImprintError('E_TARGET_NOT_FOUND', `Cannot create ${req.folder}: the folder ${path.dirname(folder)} does not exist.`);
  }
  const secrets = folderSecrets(folder, req);
  const where = fs.existsSync(folder) ? folder : path.dirname(folder);
  if (disksHoldingFile(where).some((d) => sameDevice(d, drive.device))) {
    throw new ImprintError('E_OUTPUT_ON_SOURCE', `${req.folder} is on ${drive.device}, the drive being backed up: put the backup folder on another drive.`);
  }
  const layout = layoutOfFile(drive.device, drive.size, true);
  const storage = await planDriveStorage(drive.device, drive.size, layout, false);
  const warnings = drive.writableMounts.length > 0 ? [mountedWarning(drive, true)] : [];
  return { drive, folder, level: req.level ?? 3, pieceSize: req.pieceSize, secrets, layout, storage, warnings, notes: storageWarnings(storage) };
}

/**
 * The keys this backup will use, known before anything is written: an
 * existing encrypted folder is unlocked now (a wrong passphrase stops here);
 * a new folder with `encrypt` gets its salt and key check now, written with
 * its marker when the backup starts.
 */
function folderSecrets(folder: string, req: FolderBackupRequest): FolderSecrets {
  const encrypt = req.encrypt === true;
  const passphrase = req.passphrase ?? null;
  if (fs.existsSync(path.join(folder, MARKER_FILE))) {
    const keys = unlockFolder(folder, passphrase);
    if (encrypt && !keys) throw new ImprintError('E_BAD_ARGUMENTS', `${req.folder} is a backup folder that is not encrypted: a folder is encrypted or not from its first backup. Give a new folder for encrypted backups.`);
    return { encrypt, passphrase, keys, record: keys ? readRecord(folder) : null };
  }
  if (!encrypt) return { encrypt, passphrase, keys: null, record: null };
  if (!passphrase) throw new ImprintError('E_PASSPHRASE_NEEDED', `--encrypt needs a passphrase for the new folder ${req.folder} (--passphrase-file FILE or --passphrase-env NAME, or run on a terminal to be asked).`);
  const made = FolderKeys.create(passphrase);
  return { encrypt, passphrase, keys: made.keys, record: made.record };
}

function readRecord(folder: string): FolderEncryption | null {
  return (JSON.parse(fs.readFileSync(path.join(folder, MARKER_FILE), 'utf8')) as { encryption?: FolderEncryption }).encryption ?? null;
}

/**
 * The keys for the marker found under the lock: the ones prepared, unless
 * another process made the folder meanwhile (then its record is checked
 * against the passphrase like any existing folder's).
 */
function keysUnderLock(folder: string, marker: ReturnType<typeof ensureMarker>, s: FolderSecrets): FolderKeys | null {
  if (s.encrypt && !marker.encryption) throw new ImprintError('E_BAD_ARGUMENTS', `${folder} was made as a backup folder that is not encrypted while this backup was starting; give a new folder for encrypted backups.`);
  if (marker.encryption && s.record && marker.encryption.keyCheck === s.record.keyCheck && marker.encryption.kdf.salt === s.record.kdf.salt) return s.keys;
  return keysFor(folder, marker, s.passphrase);
}

function noSpace(err: unknown, folder: string): ImprintError {
  const code = errnoOf(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ImprintError('E_NO_SPACE', `The disk holding the backup folder ${folder} is full. No generation was added; the earlier ones are intact. Free some space (or prune old generations) and run the backup again: the pieces already stored are reused.`, { cause: err });
  }
  if (err instanceof ImprintError) return err;
  if (code) return new ImprintError('E_WRITE', `Cannot write to the backup folder ${folder}: ${(err as Error).message}. No generation was added.`, { cause: err });
  return new ImprintError('E_INTERNAL', `Unexpected error (a bug in Imprint): ${(err as Error).message}`, { cause: err });
}

/** Reads the drive into the folder and adds a generation. */
export async function runFolderBackup(p: PreparedFolderBackup, opts: FolderBackupRunOptions): Promise<JobFinishedEvent> {
  const { drive, storage } = p;
  const reporter = new JobReporter(opts.onEvent, 'backup', opts.jobId);
  const progress: TargetProgress = { device: p.folder, status: 'writing', bytesWritten: 0, bytesVerified: 0 };
  let read = 0;
  const finish = (ok: boolean, extra: Partial<JobFinishedEvent>): JobFinishedEvent => {
    reporter.stopSampling();
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: [{ ...progress }], bytes: read, ...extra };
    reporter.emit(event);
    return event;
  };
  reporter.started(drive.device, [p.folder], storage.storedBytes);
  for (const w of [...p.warnings, ...p.notes]) reporter.warning(w);
  let lock: { release(): void } | null = null;
  let fd: number | null = null;
  try {
    claimFolder(p.folder);
    lock = lockFolder(p.folder, `backup of ${drive.device}`);
    const marker = ensureMarker(p.folder, p.pieceSize, p.secrets.record ?? undefined);
    const keys = keysUnderLock(p.folder, marker, p.secrets);
    clearTmp(p.folder);
    removeOrphanNames(p.folder);
    const createdAt = new Date();
    const writer = new PieceWriter(p.folder, p.level, keys);
    // Said once, as soon as the sample is measured (the first commit of a large backup), or at the end for a small one.
    let allocationSaid = false;
    const sayAllocation = (): void => {
      allocationSaid = true;
      const w = allocationWarning(p.folder, writer.allocation);
      if (w) reporter.warning(w);
    };
    fd = fs.openSync(drive.device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    reporter.phaseStarted('writing', () => ({ done: read, total: storage.storedBytes, targets: [progress] }));
    const cut = await readAndStore(fd, p, marker.pieceSize, writer, opts.signal, (n, stored) => {
      read += n;
      progress.bytesWritten += stored;
      if (!allocationSaid && writer.allocation.full) sayAllocation();
    });
    // Every piece the index names must be durable under its name before the index is.
    writer.commit();
    if (!allocationSaid) sayAllocation();
    const id = newGenerationId(createdAt, generationIds(p.folder).at(-1));
    const metadata: BackupMetadata = {
      kind: 'imprint-backup',
      schema: 1,
      imprintVersion: imprintVersion(),
      createdAt: createdAt.toISOString(),
      size: drive.size,
      sha256: cut.sha256,
      compression: 'zstd',
      compressionLevel: p.level,
      source: { device: drive.device, model: drive.model, serial: drive.serial, logicalBlockSize: drive.logicalBlockSize },
      partitionTable: p.layout.partitionTable,
      filesystem: p.layout.filesystem,
      storage: { mode: storage.mode, storedBytes: storage.storedBytes, partitions: storage.partitions, ranges: storage.ranges.map((r) => [r.start, r.length]), chunkSize: CHUNK_SIZE, chunkCrc32: cut.crcs.toString('base64') },
    };
    const added = { pieces: cut.newPieces, bytes: cut.newBytes, storedBytes: progress.bytesWritten };
    writeGeneration(p.folder, { kind: 'imprint-backup-generation', schema: 3, id, pieceSize: marker.pieceSize, metadata, pieces: cut.pieces, added }, keys);
    progress.status = 'written';
    const details: FolderBackupJobDetails = {
      kind: 'folder-backup',
      folder: p.folder,
      generation: id,
      number: generationIds(p.folder).indexOf(id) + 1,
      size: drive.size,
      storedBytes: storage.storedBytes,
      pieces: cut.pieces.length,
      newPieces: cut.newPieces,
      newBytes: cut.newBytes,
      newStoredBytes: progress.bytesWritten,
      ...newDiskBytes(writer),
      sha256: cut.sha256,
      createdAt: metadata.createdAt,
      storage: { mode: storage.mode, storedBytes: storage.storedBytes, partitions: storage.partitions },
    };
    reporter.phaseStarted('done', () => ({ done: read, total: storage.storedBytes, targets: [progress] }));
    return finish(true, { digests: { sha256: cut.sha256 }, details });
  } catch (err) {
    const error = noSpace(err, p.folder);
    progress.status = error.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
    progress.error = toErrorInfo(error);
    return finish(false, { error: progress.error });
  } finally {
    if (fd !== null) fs.closeSync(fd);
    if (lock) {
      try {
        clearTmp(p.folder);
        removeOrphanNames(p.folder);
      } catch {
        // Debris in tmp/ (and a names file without its index) is cleared by the next writer.
      }
      lock.release();
    }
  }
}

/** What the new pieces take on the folder's disk (piece-allocation.ts), where its filesystem says. */
function newDiskBytes(writer: PieceWriter): { newDiskBytes?: number } {
  return writer.allocation.ratio() === null ? {} : { newDiskBytes: writer.allocation.diskBytes };
}

interface CutResult {
  pieces: PieceList;
  newPieces: number;
  newBytes: number;
  sha256: string;
  /** CRC-32 of each 4 MiB chunk of the drive as stored (zeros outside the ranges), little-endian words. */
  crcs: Buffer;
}

/**
 * Reads the stored ranges chunk by chunk, in drive order, and cuts them into
 * pieces at multiples of `pieceSize`; stores the pieces the folder lacks.
 */
async function readAndStore(fd: number, p: PreparedFolderBackup, pieceSize: number, writer: PieceWriter, signal: AbortSignal | undefined, onRead: (bytes: number, stored: number) => void): Promise<CutResult> {
  const size = p.drive.size;
  const src = { fd, path: p.drive.device, isBlockDevice: true };
  const cursor = new RangeCursor(p.storage.ranges);
  const buf = allocAligned(CHUNK_SIZE);
  const chunks = Math.ceil(size / CHUNK_SIZE);
  const crcs = Buffer.alloc(chunks * 4);
  const zeroCrcs = new Map<number, number>();
  const hash = crypto.createHash('sha256');
  const pieces = new PieceListBuilder(Math.ceil(p.storage.storedBytes / pieceSize) + p.storage.ranges.length);
  /** Pieces stored by this run: the same content twice in one drive is written once. */
  const seen = new NameSet();
  const name = Buffer.alloc(NAME_BYTES);
  let newPieces = 0;
  let newBytes = 0;
  for (let i = 0; i < chunks; i++) {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled. No generation was added; the earlier ones are intact.');
    const at = i * CHUNK_SIZE;
    const length = Math.min(CHUNK_SIZE, size - at);
    const parts = cursor.clip(at, at + length);
    if (parts.length === 0) {
      let crc = zeroCrcs.get(length);
      if (crc === undefined) zeroCrcs.set(length, (crc = chunkCrc(Buffer.alloc(length))));
      crcs.writeUInt32LE(crc >>> 0, i * 4);
      continue;
    }
    buf.fill(0, 0, length);
    for (const part of parts) {
      const n = await readChunkAt(src, buf.subarray(part.start - at), part.length, part.start);
      if (n < part.length) throw new ImprintError('E_SOURCE_CHANGED', `${p.drive.device} ended at byte ${part.start + n}, but it held ${size} bytes when the backup started.`, { offset: part.start + n });
    }
    crcs.writeUInt32LE(chunkCrc(buf.subarray(0, length)) >>> 0, i * 4);
    for (const part of parts) {
      const data = buf.subarray(part.start - at, part.start - at + part.length);
      hash.update(data);
      // The cut a schema 2 index is read back by (piece-list.ts): one rule, in one place.
      for (const [off, pieceLength] of cutRanges([[part.start, part.length]], pieceSize)) {
        const end = off + pieceLength;
        const piece = buf.subarray(off - at, end - at);
        const h = writer.nameOf(piece);
        name.write(h, 'hex');
        let stored = 0;
        // add() gives a name it already held its earlier index: one lookup for both the test and the insert.
        const known = seen.size;
        const firstInRun = seen.add(name) === known;
        if (firstInRun && !writer.has(h)) {
          stored = writer.write(h, piece);
          newPieces++;
          newBytes += piece.length;
        }
        pieces.push(off, pieceLength, name);
        onRead(pieceLength, stored);
      }
    }
  }
  return { pieces: pieces.finish(), newPieces, newBytes, sha256: hash.digest('hex'), crcs };
}
