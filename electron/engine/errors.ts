import { ERROR_CODES, type ErrorCode, type ErrorInfo, exitCodeFor } from '../../shared/error-codes';

/**
 * The one error class the engine throws on purpose. Its `code` is fixed per
 * situation, its message is written for the person using Imprint, and the OS
 * error that led to it stays in `cause` for logs.
 */
export class ImprintError extends Error {
  readonly code: ErrorCode;
  readonly offset?: number;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; offset?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ImprintError';
    this.code = code;
    if (options.offset !== undefined) this.offset = options.offset;
  }

  get kind(): 'refused' | 'failed' {
    return ERROR_CODES[this.code];
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }

  toInfo(): ErrorInfo {
    return this.offset === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, offset: this.offset };
  }
}

/** Any thrown value as error data; unknown errors are bugs and say so. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof ImprintError) return err.toInfo();
  if (isErrorInfoLike(err)) return { code: err.code, message: err.message, ...(err.offset !== undefined ? { offset: err.offset } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'E_INTERNAL', message: `Unexpected error (a bug in Imprint): ${message}` };
}

/** Rebuild an ImprintError from data that crossed a thread or process boundary. */
export function fromErrorInfo(info: ErrorInfo): ImprintError {
  return new ImprintError(info.code, info.message, info.offset === undefined ? {} : { offset: info.offset });
}

function isErrorInfoLike(err: unknown): err is ErrorInfo {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.message === 'string' && typeof e.code === 'string' && e.code in ERROR_CODES;
}

export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Folds an OS error from writing to a target into one of a few classes
 * (Raspberry Pi Imager's WriteErrorClass does the same): the UI must tell a
 * bad sector from a full drive from a drive that was pulled out.
 */
export function classifyWriteError(err: unknown, device: string, offset: number): ImprintError {
  const errno = errnoOf(err);
  const at = `at byte offset ${offset}`;
  if (isGoneErrno(errno)) return deviceGoneError(device, offset, err);
  switch (errno) {
    case 'EIO':
    case 'EILSEQ':
      return new ImprintError('E_BAD_SECTOR', `Write to ${device} failed: bad sector at offset ${offset} (the medium refused the data there). The drive is failing; do not trust it with data.`, { cause: err, offset });
    case 'ENOSPC':
    case 'EFBIG':
      return new ImprintError('E_NO_SPACE', `${device} is full ${at}: it holds less than the image needs.`, { cause: err, offset });
    case 'EROFS':
    case 'EPERM':
    case 'EACCES':
      return new ImprintError('E_PERMISSION', `${device} refused writing ${at} (${errno}): it may be write-protected, or Imprint lacks permission.`, { cause: err, offset });
    default:
      return new ImprintError('E_WRITE', `Write to ${device} failed ${at}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, offset });
  }
}

/** Errors that mean the device itself is no longer there, whatever the offset. */
const GONE_ERRNOS = new Set(['ENXIO', 'ENODEV', 'ENOENT', 'ESHUTDOWN', 'ENOTCONN']);

function isGoneErrno(errno: string | undefined): boolean {
  return errno !== undefined && GONE_ERRNOS.has(errno);
}

/**
 * The drive as a whole stopped answering (unplugged, or its controller died):
 * not a bad sector, and no retry at this offset will help.
 */
export function deviceGoneError(device: string, offset: number, cause?: unknown): ImprintError {
  return new ImprintError('E_DEVICE_GONE', `${device}: the drive is gone. It stopped answering at byte offset ${offset} and no longer reads anywhere: it was unplugged, or it failed as a whole.`, { cause, offset });
}

/** The same folding for errors met while reading a device back or as a source. */
export function classifyReadError(err: unknown, device: string, offset: number): ImprintError {
  const errno = errnoOf(err);
  const at = `at byte offset ${offset}`;
  if (isGoneErrno(errno)) return deviceGoneError(device, offset, err);
  switch (errno) {
    case 'EIO':
    case 'EILSEQ':
      return new ImprintError('E_BAD_SECTOR', `Read from ${device} failed: unreadable sector at offset ${offset}.`, { cause: err, offset });
    default:
      return new ImprintError('E_SOURCE_READ', `Read from ${device} failed ${at}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, offset });
  }
}
