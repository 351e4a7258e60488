import * as fs from 'fs';
import * as path from 'path';
import type { BackupFolderInfo, BackupFolderState, FolderBackupRequest, GenerationSummary, UnlockedBackupFolder } from '../../shared/backup-folder-types';
import { ImprintError } from '../engine/errors';
import { inAppWords, type FolderUnlocks } from './folder-unlocks';
import { isEncryptedFolder } from '../engine/formats/backup-folder/folder-keys';
import { generationRef } from '../../shared/backup-folder-types';
import type { BackupDetails, RestoreRequest } from '../../shared/ipc-contract';
import { holdsForeignFiles, openFolder } from '../engine/formats/backup-folder/folder-layout';
import { resolveFolderRef, parseFolderRef } from '../engine/formats/backup-folder/folder-ref';
import { generationIds } from '../engine/formats/backup-folder/generation-index';
import { prepareFolderBackup, runFolderBackup } from '../engine/jobs/folder-backup-job';
import { prepareFolderRestore, runFolderRestore } from '../engine/jobs/folder-restore-job';
import { listFolder } from '../engine/jobs/folder-verify';
import type { PreparedJob } from './backup-jobs';

/**
 * Backup folders (docs/backup-folder.md) for the desktop app: what a path
 * holds, a generation's details in the shape a backup file's are shown in,
 * and the folder backup and restore jobs in the shape the service runs every
 * job. The engine does the work; this only adapts it.
 */

/** True when `ref` names a backup folder or one of its generations (FOLDER, FOLDER#GEN) rather than a file. */
export function isFolderRef(ref: string): boolean {
  return parseFolderRef(ref) !== null;
}

function stateOf(dir: string): BackupFolderState {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return fs.existsSync(path.dirname(dir)) && fs.statSync(path.dirname(dir)).isDirectory() ? 'new' : 'no-parent';
  }
  if (!st.isDirectory()) return 'not-a-folder';
  try {
    openFolder(dir);
    return 'backup-folder';
  } catch {
    // Not one (no valid marker): what else it holds decides.
  }
  return holdsForeignFiles(dir) ? 'foreign' : 'empty';
}

/**
 * What is at `dir` as a backup folder, and its generations (read and checked;
 * a damaged one carries its error). An encrypted folder's generations are
 * listed only with its `passphrase`; without one it is said to be encrypted.
 */
export function inspectBackupFolder(dir: string, passphrase?: string): BackupFolderInfo {
  const resolved = path.resolve(dir);
  const state = stateOf(resolved);
  if (state !== 'backup-folder') return { path: resolved, state, generations: [] };
  const encrypted = isEncryptedFolder(resolved);
  if (encrypted && passphrase === undefined) return { path: resolved, state, generations: [], encrypted };
  const generations: GenerationSummary[] = listFolder(resolved, passphrase).map(({ sha256: _recorded, ...summary }) => summary);
  return { path: resolved, state, generations, ...(encrypted ? { encrypted } : {}) };
}

/**
 * Lists an encrypted folder's generations with its passphrase (a wrong one
 * is refused by the engine, E_WRONG_PASSPHRASE) and keeps the passphrase in
 * `unlocks` under the handle returned.
 */
export function unlockBackupFolder(dir: string, passphrase: string, unlocks: FolderUnlocks): UnlockedBackupFolder {
  const info = inspectBackupFolder(dir, passphrase);
  if (info.state !== 'backup-folder') throw new ImprintError('E_NOT_A_BACKUP', `${info.path} is not an Imprint backup folder.`);
  if (!info.encrypted) throw new ImprintError('E_BAD_ARGUMENTS', `${info.path} is not encrypted: it opens without a passphrase.`);
  return { info, unlock: unlocks.grant(info.path, passphrase) };
}

/**
 * A generation's record as BackupDetails, so the Restore screen shows it,
 * sizes the targets by it and confirms with it as it does a backup file.
 * Its path pins the generation (FOLDER#ID): one added meanwhile does not change what is restored.
 * An encrypted folder's is read with the passphrase `unlock` stands for in `unlocks`.
 */
export function generationDetails(ref: string, unlock?: string, unlocks?: FolderUnlocks): BackupDetails {
  const parsed = parseFolderRef(ref);
  let resolved: ReturnType<typeof resolveFolderRef>;
  try {
    resolved = resolveFolderRef(ref, parsed && unlocks ? unlocks.passphraseFor(unlock, parsed.folder) : undefined);
  } catch (err) {
    throw inAppWords(err, parsed?.folder ?? ref);
  }
  const { folder, index } = resolved;
  const m = index.metadata;
  const number = generationIds(folder).indexOf(index.id) + 1;
  return {
    path: generationRef(folder, index.id),
    name: `${path.basename(path.resolve(folder))}, generation ${number}`,
    format: 'backup-folder',
    formatLabel: `backup folder generation ${number} (${index.id})`,
    // What this generation added to the folder: the file size's counterpart for a generation.
    fileSize: index.added.storedBytes,
    size: m.size,
    partitionTable: m.partitionTable?.type ?? null,
    sha256: m.sha256,
    sourceModel: m.source.model,
    sourceSerial: m.source.serial,
    sourceSize: m.size,
    createdAt: m.createdAt,
    imprintVersion: m.imprintVersion,
    compression: m.compression,
    metadataFrom: 'sidecar',
    partitions: m.partitionTable?.partitions ?? [],
    storage: m.storage ? { mode: m.storage.mode, storedBytes: m.storage.storedBytes, partitions: m.storage.partitions } : null,
  };
}

/** Checks the drive and the folder (refusals are the call's error), then adds a generation. */
export async function prepareFolderBackupJob(req: FolderBackupRequest): Promise<PreparedJob> {
  const prepared = await prepareFolderBackup({ device: req.device, folder: req.folder, encrypt: req.encrypt === true, passphrase: req.passphrase ?? null });
  return {
    devices: [prepared.drive.device],
    source: prepared.drive.device,
    targets: [prepared.folder],
    totalBytes: prepared.storage.storedBytes,
    run: (opts) => runFolderBackup(prepared, opts),
  };
}

/** Reads the generation's index and checks the targets against it; the smart restore then writes and verifies. */
export async function prepareFolderRestoreJob(req: RestoreRequest, passphrase?: string): Promise<PreparedJob> {
  const prepared = await prepareFolderRestore(req.backup, req.targets, passphrase);
  return {
    devices: prepared.targets.filter((t) => t.isBlockDevice).map((t) => t.path),
    source: generationRef(prepared.folder, prepared.index.id),
    targets: prepared.targets.map((t) => t.path),
    totalBytes: prepared.index.metadata.size,
    run: ({ jobId, signal, onEvent }) => runFolderRestore(prepared, { verify: req.verify, wipeFreeSpace: req.wipeFreeSpace === true, jobId, signal, onEvent }),
  };
}
