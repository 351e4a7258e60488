import { isErrorCode, type ErrorCode, type ErrorInfo } from './error-codes';
import { MAX_TARGETS } from './ipc-schemas';
import type { JobEvent } from './job-events';
import { bool, count, list, literal, nullable, num, object, oneOf, optional, str, union, type Infer, type Schema } from './schema';

/**
 * Run-time schemas for job events (job-events.ts). A job run in another
 * process (the privileged helper: `imprint --json` started through pkexec)
 * sends its events as text; the app checks each one against these before it
 * reaches the service and the window, as IPC requests are checked against
 * ipc-schemas.ts. Bounds are generous for a real job and refuse a flood.
 */

const text = str({ max: 4096 });
const message = str({ max: 16384 });
const id = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9-]+$/, patternHint: 'is not a job id' });
const bytes = count();
const nullableBytes = nullable(bytes);
const ratio = num({ min: 0 });
const notes = list(message, { max: 1000 });

const errorCode: Schema<ErrorCode> = (value, at) =>
  isErrorCode(value) ? { ok: true, value } : { ok: false, problem: `${at} is not an error code Imprint knows` };

export const ERROR_INFO_SCHEMA: Schema<ErrorInfo> = object({ code: errorCode, message, offset: optional(bytes) });

const targetProgress = object({
  device: text,
  status: oneOf(['pending', 'writing', 'written', 'verifying', 'verified', 'failed', 'cancelled'] as const),
  bytesWritten: bytes,
  bytesVerified: bytes,
  error: optional(ERROR_INFO_SCHEMA),
});
const targets = list(targetProgress, { max: MAX_TARGETS });

const jobKind = oneOf(['flash', 'verify', 'hash', 'backup', 'restore', 'clone', 'rescue', 'check', 'format', 'extract'] as const);
const jobPhase = oneOf(['preparing', 'downloading', 'decompressing', 'writing', 'verifying', 'copying', 'trimming', 'scraping', 'retrying', 'done'] as const);
const hex = (max: number): Schema<string> => str({ min: 1, max, pattern: /^[0-9a-f]+$/, patternHint: 'must be hexadecimal' });
const digests = object({ sha256: optional(hex(64)), sha1: optional(hex(40)), md5: optional(hex(32)), xxh3: optional(hex(32)) });

const rescueProgress = object({
  rescuedBytes: bytes,
  nonTriedBytes: bytes,
  nonTrimmedBytes: bytes,
  nonScrapedBytes: bytes,
  badSectorBytes: bytes,
  readErrors: bytes,
  pass: bytes,
  position: bytes,
});
const downloadProgress = object({ downloadedBytes: bytes, totalBytes: nullableBytes, attempts: bytes, retrying: bool(), cached: bool() });

const partitionStorage = object({
  number: bytes,
  start: bytes,
  size: bytes,
  filesystem: nullable(text),
  usedBytes: nullableBytes,
  stored: oneOf(['used-blocks', 'whole'] as const),
  reason: nullable(message),
  storedBytes: bytes,
});
const storageSummary = object({ mode: oneOf(['used-blocks', 'sector-by-sector'] as const), storedBytes: bytes, partitions: list(partitionStorage, { max: 4096 }) });

const markerError = object({ offset: bytes, state: oneOf(['write-error', 'read-error'] as const), errno: str({ max: 64 }) });
const capacityMarker = union('state', {
  intact: object({ offset: bytes, state: literal('intact') }),
  overwritten: object({ offset: bytes, state: literal('overwritten'), by: bytes }),
  lost: object({ offset: bytes, state: literal('lost') }),
  'write-error': markerError,
  'read-error': markerError,
});

const details = union('kind', {
  backup: object({
    kind: literal('backup'),
    output: text,
    sidecar: text,
    compression: oneOf(['zstd', 'gzip', 'xz', 'none'] as const),
    level: nullable(num({ min: -(1 << 17), max: 1000, integer: true })),
    size: bytes,
    outputBytes: bytes,
    storedBytes: bytes,
    compressionRatio: ratio,
    sha256: hex(64),
    metadataEmbedded: bool(),
    createdAt: text,
    storage: optional(storageSummary),
  }),
  rescue: object({
    kind: literal('rescue'),
    rescuedBytes: bytes,
    lostBytes: bytes,
    pendingBytes: bytes,
    badAreas: list(object({ offset: bytes, length: bytes }), { max: 10_000 }),
    badAreaCount: bytes,
    mapfile: text,
    output: text,
    readErrors: bytes,
    cancelled: bool(),
  }),
  restore: object({
    kind: literal('restore'),
    backup: text,
    sha256: hex(64),
    size: bytes,
    createdAt: text,
    sourceModel: nullable(text),
    sourceSerial: nullable(text),
    metadataFrom: oneOf(['embedded', 'sidecar'] as const),
    storedBytes: optional(bytes),
    notes: optional(notes),
  }),
  clone: object({ kind: literal('clone'), source: text, size: bytes, sourceModel: nullable(text), sourceSerial: nullable(text) }),
  check: object({
    kind: literal('check'),
    claimedBytes: bytes,
    realBytesEstimate: bytes,
    wrapsAt: nullableBytes,
    markers: bytes,
    failedMarkers: bytes,
    restoredPages: bytes,
    notRestoredPages: bytes,
    failures: list(capacityMarker, { max: 10_000 }),
  }),
  format: object({ kind: literal('format'), filesystem: oneOf(['fat32', 'exfat'] as const), label: text, partition: nullable(text) }),
  'folder-backup': object({
    kind: literal('folder-backup'),
    folder: text,
    generation: text,
    number: bytes,
    size: bytes,
    storedBytes: bytes,
    pieces: bytes,
    newPieces: bytes,
    newBytes: bytes,
    newStoredBytes: bytes,
    newDiskBytes: optional(bytes),
    sha256: hex(64),
    createdAt: text,
    storage: storageSummary,
  }),
  extract: object({
    kind: literal('extract'),
    dest: text,
    files: bytes,
    folders: bytes,
    symlinks: bytes,
    bytes,
    problems: list(object({ path: text, message }), { max: 1000 }),
    problemCount: bytes,
  }),
});

/** Every job event, told apart by `type`. */
export const JOB_EVENT_SCHEMA = union('type', {
  'job-started': object({
    type: literal('job-started'),
    jobId: id,
    kind: jobKind,
    source: text,
    targets: list(text, { max: MAX_TARGETS }),
    totalBytes: nullableBytes,
    startedAt: optional(text),
  }),
  progress: object({
    type: literal('progress'),
    jobId: id,
    phase: jobPhase,
    bytesDone: bytes,
    totalBytes: nullableBytes,
    bytesPerSecond: num({ min: 0 }),
    etaSeconds: nullable(num({ min: 0 })),
    targets,
    compressionRatio: optional(ratio),
    rescue: optional(rescueProgress),
    download: optional(downloadProgress),
    bottleneck: optional(oneOf(['network', 'decompression', 'drive'] as const)),
  }),
  'target-failed': object({ type: literal('target-failed'), jobId: id, device: text, error: ERROR_INFO_SCHEMA }),
  warning: object({ type: literal('warning'), jobId: id, message }),
  'job-finished': object({
    type: literal('job-finished'),
    jobId: id,
    ok: bool(),
    targets,
    bytes,
    digests: optional(digests),
    error: optional(ERROR_INFO_SCHEMA),
    details: optional(details),
    finishedAt: optional(text),
  }),
});

/** The CLI's report of a refusal before any job started (`imprint --json` prints it instead of job events). */
export const CLI_ERROR_SCHEMA = object({ type: literal('error'), error: ERROR_INFO_SCHEMA });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when the schema and job-events.ts's types differ in either direction (a field added to one only).
const _eventsMatch: Same<Infer<typeof JOB_EVENT_SCHEMA>, JobEvent> = true;
void _eventsMatch;
