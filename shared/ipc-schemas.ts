import { MAX_PASSPHRASE_LENGTH, UNLOCK_PATTERN } from './backup-folder-types';
import { PART_PATH_PATTERN } from './browse-types';
import { CALL_NAMES, type CallName, type Calls, type Result } from './ipc-contract';
import { absolutePath, bool, list, object, oneOf, optional, str, type Infer, type Schema } from './schema';
import { MAX_URL_LENGTH, SHA256_PATTERN } from './web-source';

/**
 * Run-time schemas for every call's request in ipc-contract.ts. Every
 * transport (Electron IPC, browser mode's WebSocket) passes each payload
 * through `validateRequest` before the service sees it: the renderer is
 * treated as untrusted input, like any web page.
 */

/** At most this many drives are written at once: more is a mistake (or an attack), not a use case. */
export const MAX_TARGETS = 16;

const path = absolutePath();
const targets = list(path, { min: 1, max: MAX_TARGETS, unique: true });
const empty = object({});
/** A place inside a source: PART:PATH (browse-types.ts). */
const where = str({ min: 3, max: 4096, pattern: PART_PATH_PATTERN, patternHint: 'must be PART:PATH, for example 1:/home' });

/** A file name, not a path: the save dialog puts it in a folder the user picks. */
const fileName = str({ min: 1, max: 255, pattern: /^[^/\\]+$/, patternHint: 'must be a file name without folders' });

/** Job ids are UUIDs made by the engine; accept their alphabet only. */
const jobId = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9-]+$/, patternHint: 'is not a job id' });

/** An http(s) URL without spaces; the service's URL policy decides the rest. */
const webUrl = str({ min: 1, max: MAX_URL_LENGTH, pattern: /^https?:\/\/[^\s]+$/i, patternHint: 'must be an http(s) address without spaces' });
const sha256 = str({ min: 64, max: 64, pattern: SHA256_PATTERN, patternHint: 'must be 64 hexadecimal digits' });
/** A catalogue folder's name as the engine cleaned it (catalogue-fields.ts keeps names under 300 characters). */
const folderName = str({ min: 1, max: 300 });
/** Ids the service gave catalogue entries: "e" and a number. */
const entryId = str({ min: 2, max: 24, pattern: /^e[0-9]+$/, patternHint: 'is not a catalogue entry id' });
/** A catalogue's source: one the service lists (a URL or a file it was started with) or a URL; the service checks which. */
const catalogueSource = str({ min: 1, max: MAX_URL_LENGTH });
/** A backup folder's passphrase: no pattern, so no refusal ever quotes it (only its length is said). */
const passphrase = str({ min: 1, max: MAX_PASSPHRASE_LENGTH });
const unlock = str({ min: 32, max: 32, pattern: UNLOCK_PATTERN, patternHint: 'is not an unlock handle' });

/**
 * The schema of each call's request. `satisfies` makes a missing call or a
 * schema that accepts less than the contract a compile error; `SchemasMatch`
 * below catches one that accepts more (an extra field).
 */
export const REQUEST_SCHEMAS = {
  listDrives: empty,
  inspectImage: object({ path }),
  inspectBackup: object({ path, unlock: optional(unlock) }),
  chooseImage: empty,
  chooseBackupPath: object({ suggestedName: fileName }),
  startFlash: object({ image: path, targets, verify: bool() }),
  startBackup: object({ device: path, output: path, compression: oneOf(['zstd', 'gzip', 'xz', 'none'] as const), force: optional(bool()), rescue: optional(bool()), sectorBySector: optional(bool()) }),
  planBackup: object({ device: path, sectorBySector: optional(bool()) }),
  startRestore: object({ backup: path, targets, verify: bool(), wipeFreeSpace: optional(bool()), unlock: optional(unlock) }),
  startFormat: object({ drive: path, filesystem: optional(oneOf(['fat32', 'exfat'] as const)), label: optional(str({ min: 1, max: 15 })) }),
  cancelJob: object({ jobId }),
  revealFile: object({ path }),
  jobSnapshots: empty,
  checkBackupOutput: object({ path }),
  inspectLayout: object({ path }),
  listFolder: object({ path }),
  loadCatalogue: object({ source: optional(catalogueSource), folder: optional(list(folderName, { max: 8 })), search: optional(str({ max: 200 })) }),
  startFlashUrl: object({ url: webUrl, sha256: optional(sha256), targets, verify: bool() }),
  startFlashOs: object({ entryId, targets, verify: bool() }),
  browsePartitions: object({ source: path, unlock: optional(unlock) }),
  browseFolder: object({ source: path, where, unlock: optional(unlock) }),
  startExtract: object({ source: path, items: list(where, { min: 1, max: 1000 }), dest: path, unlock: optional(unlock) }),
  chooseFolder: object({ title: str({ min: 1, max: 200 }) }),
  inspectBackupFolder: object({ path }),
  startFolderBackup: object({ device: path, folder: path, encrypt: optional(bool()), passphrase: optional(passphrase) }),
  unlockBackupFolder: object({ path, passphrase }),
} satisfies { [K in CallName]: Schema<Calls[K]['request']> };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SchemasMatch = { [K in CallName]: Same<Infer<(typeof REQUEST_SCHEMAS)[K]>, Calls[K]['request']> };
// Fails to compile when a schema's type and the contract's request type differ in either direction.
const _schemasMatch: SchemasMatch = {
  listDrives: true,
  inspectImage: true,
  inspectBackup: true,
  chooseImage: true,
  chooseBackupPath: true,
  startFlash: true,
  startBackup: true,
  planBackup: true,
  startRestore: true,
  startFormat: true,
  cancelJob: true,
  revealFile: true,
  jobSnapshots: true,
  checkBackupOutput: true,
  inspectLayout: true,
  listFolder: true,
  loadCatalogue: true,
  startFlashUrl: true,
  startFlashOs: true,
  browsePartitions: true,
  browseFolder: true,
  startExtract: true,
  chooseFolder: true,
  inspectBackupFolder: true,
  startFolderBackup: true,
  unlockBackupFolder: true,
};

/** True for the name of a call in the contract (a string from the wire is untrusted). */
export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && (CALL_NAMES as readonly string[]).includes(name);
}

/**
 * Checks a call's payload. Returns the request (a fresh object with only the
 * declared fields) or E_BAD_ARGUMENTS saying what is wrong.
 */
export function validateRequest<K extends CallName>(name: K, payload: unknown): Result<Calls[K]['request']>;
export function validateRequest(name: unknown, payload: unknown): Result<unknown>;
export function validateRequest(name: unknown, payload: unknown): Result<unknown> {
  if (!isCallName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 60)) : typeof name;
    return { ok: false, error: { code: 'E_BAD_ARGUMENTS', message: `Unknown call ${shown}.` } };
  }
  const checked = (REQUEST_SCHEMAS[name] as Schema<unknown>)(payload, `${name} request`);
  return checked.ok ? { ok: true, value: checked.value } : { ok: false, error: { code: 'E_BAD_ARGUMENTS', message: `Invalid ${checked.problem}.` } };
}
