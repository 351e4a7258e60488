/**
 * Every error Imprint reports has one of these codes. The code is what
 * programs (the desktop app, scripts reading `--json`) branch on; the message
 * beside it is for people.
 *
 * The kind tells the caller what to do about it:
 *  - `refused`: a user's mistake or a safety rule; nothing was written (exit 2)
 *  - `failed`: the operation ran and did not succeed (exit 1)
 * One refusal has an exit code of its own, so scripts can ask again: a wrong
 * passphrase for an encrypted backup folder (exit 3).
 */
export const ERROR_CODES = {
  E_BAD_ARGUMENTS: 'refused',
  E_SOURCE_NOT_FOUND: 'refused',
  E_SOURCE_UNREADABLE: 'refused',
  E_SOURCE_EMPTY: 'refused',
  E_SOURCE_IS_DIRECTORY: 'refused',
  E_UNSUPPORTED_FORMAT: 'refused',
  E_ZIP_NO_IMAGE: 'refused',
  E_ZIP_SEVERAL_IMAGES: 'refused',
  E_TARGET_NOT_FOUND: 'refused',
  E_TARGET_NOT_WRITABLE_KIND: 'refused',
  E_TARGET_SYSTEM: 'refused',
  E_TARGET_HOLDS_SOURCE: 'refused',
  E_TARGET_READ_ONLY: 'refused',
  E_TARGET_TOO_SMALL: 'refused',
  E_TARGET_DUPLICATE: 'refused',
  E_TARGET_MOUNTED: 'refused',
  /** Another job of this app is already using the drive. */
  E_TARGET_BUSY: 'refused',
  /** Another Imprint process holds the backup folder's lock. */
  E_FOLDER_BUSY: 'refused',
  E_NOT_CONFIRMED: 'refused',
  E_OUTPUT_EXISTS: 'refused',
  E_NO_SPACE_FOR_OUTPUT: 'refused',
  E_OUTPUT_ON_SOURCE: 'refused',
  E_NOT_A_BACKUP: 'refused',
  /** An encrypted backup folder, and no passphrase given (no option, no terminal to ask). */
  E_PASSPHRASE_NEEDED: 'refused',
  /** The passphrase does not open the encrypted backup folder (its own exit code: EXIT.wrongPassphrase). */
  E_WRONG_PASSPHRASE: 'refused',
  /** A URL Imprint will not fetch: not http(s), plain http to a public address without --allow-http, https redirected to http. */
  E_URL_REFUSED: 'refused',
  /** A catalogue that is not JSON, or not the shape its format requires. */
  E_CATALOGUE_INVALID: 'refused',
  /** No catalogue entry (or more than one) answers to the name asked for. */
  E_CATALOGUE_NO_MATCH: 'refused',
  E_CHECKSUM_MISMATCH: 'failed',
  /** The server answered with an error status (404...), or a redirect loop, or a certificate that does not verify. */
  E_DOWNLOAD_FAILED: 'failed',
  /** No byte arrived for the set time, across every retry. */
  E_DOWNLOAD_STALLED: 'failed',
  /** The body was shorter or longer than the server announced, or its size changed between requests. */
  E_DOWNLOAD_LENGTH: 'failed',
  E_CORRUPT_SOURCE: 'failed',
  E_SOURCE_CHANGED: 'failed',
  E_SOURCE_READ: 'failed',
  E_TARGET_END: 'failed',
  E_WRITE: 'failed',
  E_BAD_SECTOR: 'failed',
  E_DEVICE_GONE: 'failed',
  E_DEVICE_HUNG: 'failed',
  E_NO_SPACE: 'failed',
  E_VERIFY_MISMATCH: 'failed',
  E_VERIFY_SHORT: 'failed',
  E_COUNTERFEIT: 'failed',
  E_CANCELLED: 'failed',
  E_PERMISSION: 'failed',
  E_INTERNAL: 'failed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorKind = (typeof ERROR_CODES)[ErrorCode];

/** An error as data: what crosses IPC, WebSocket and `--json` output. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /** Byte offset on the device or in the image the error is about, when there is one. */
  offset?: number;
}

/** Process exit codes of the `imprint` command. */
export const EXIT = { ok: 0, failed: 1, refused: 2, wrongPassphrase: 3 } as const;

export function exitCodeFor(code: ErrorCode): number {
  if (code === 'E_WRONG_PASSPHRASE') return EXIT.wrongPassphrase;
  return ERROR_CODES[code] === 'refused' ? EXIT.refused : EXIT.failed;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
