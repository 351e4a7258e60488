import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../engine/errors';
import { parseFolderRef } from '../engine/formats/backup-folder/folder-ref';

/**
 * Encrypted backup folders in the app (docs/backup-folder.md): the
 * passphrase reaches main once, in the request that opens the folder
 * (`unlockBackupFolder`); main keeps it here under a random handle, and the
 * restore's later requests carry the handle. The renderer (web content, the
 * least trusted part) then holds no secret, and a handle is good only for
 * its folder, only in this process, and only for a while.
 */

/**
 * How long a handle stays good after its last use. Owned here: long enough
 * to pick a generation and drives and confirm, short enough that a window
 * left open does not keep a folder open for the day.
 */
export const UNLOCK_IDLE_MS = 15 * 60_000;
/** Handles kept at once; the least recently used goes first (one per folder opened is the normal case). */
const MAX_UNLOCKS = 8;

interface Held {
  folder: string;
  passphrase: string;
  usedAt: number;
}

export class FolderUnlocks {
  private readonly held = new Map<string, Held>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Keeps `passphrase` (already checked against `folder`) and returns the handle that stands for it. */
  grant(folder: string, passphrase: string): string {
    this.expire();
    const handle = randomBytes(16).toString('hex');
    this.held.set(handle, { folder: path.resolve(folder), passphrase, usedAt: this.now() });
    while (this.held.size > MAX_UNLOCKS) this.held.delete(this.held.keys().next().value as string);
    return handle;
  }

  /**
   * The passphrase `handle` holds for `folder`; undefined without a handle
   * (a plain folder needs none). A handle unknown, expired or made for
   * another folder is refused as E_PASSPHRASE_NEEDED: the app asks again.
   */
  passphraseFor(handle: string | undefined, folder: string): string | undefined {
    if (handle === undefined) return undefined;
    this.expire();
    const held = this.held.get(handle);
    if (!held || held.folder !== path.resolve(folder)) {
      throw new ImprintError('E_PASSPHRASE_NEEDED', `Imprint no longer holds the passphrase of ${folder} (it forgets it ${UNLOCK_IDLE_MS / 60_000} minutes after its last use): type it again.`);
    }
    // Re-inserted, so the map's order stays least recently used first.
    this.held.delete(handle);
    this.held.set(handle, { ...held, usedAt: this.now() });
    return held.passphrase;
  }

  /** Forgets every passphrase (the service is closing). */
  clear(): void {
    this.held.clear();
  }

  private expire(): void {
    const t = this.now();
    for (const [handle, held] of this.held) if (t - held.usedAt > UNLOCK_IDLE_MS) this.held.delete(handle);
  }
}

/**
 * The app's wording for a refusal about a missing passphrase: the engine's
 * speaks of the CLI's options, which mean nothing in a window.
 */
export function inAppWords(err: unknown, folder: string): unknown {
  if (err instanceof ImprintError && err.code === 'E_PASSPHRASE_NEEDED' && /--passphrase/.test(err.message)) {
    return new ImprintError('E_PASSPHRASE_NEEDED', `The backup folder ${folder} is encrypted: type its passphrase.`, { cause: err });
  }
  return err;
}

/**
 * Runs `fn` with the passphrase `unlock` stands for when `source` is a
 * backup folder's generation (browsing, extracting), else with none; a
 * refusal about the passphrase is put in the app's words.
 */
export async function withUnlocked<T>(unlocks: FolderUnlocks, source: string, unlock: string | undefined, fn: (passphrase: string | undefined) => Promise<T>): Promise<T> {
  const ref = parseFolderRef(source);
  if (!ref) return fn(undefined);
  try {
    return await fn(unlocks.passphraseFor(unlock, ref.folder));
  } catch (err) {
    throw inAppWords(err, ref.folder);
  }
}

/**
 * A passphrase for the privileged helper (the CLI run as root): in a file
 * only this user (and root) may read, in a folder made for it, named by
 * `--passphrase-file`. Not on the command line (`ps` shows that) and not in
 * the environment (pkexec clears it). `dispose` deletes it; the service calls
 * it when the helper has ended.
 */
export function passphraseFile(passphrase: string): { args: string[]; dispose(): void } {
  // $XDG_RUNTIME_DIR is a per-user tmpfs on systemd systems: the file then never reaches a disk.
  const runtime = process.env.XDG_RUNTIME_DIR;
  const base = runtime && path.isAbsolute(runtime) && fs.existsSync(runtime) ? runtime : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'imprint-pass-'));
  fs.chmodSync(dir, 0o700);
  const file = path.join(dir, 'passphrase');
  fs.writeFileSync(file, passphrase, { mode: 0o600, flag: 'wx' });
  return { args: ['--passphrase-file', file], dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** `args` put among a CLI argument vector's options: before its `--` (after which everything is a path). */
export function withOptions(cliArgs: readonly string[], args: readonly string[]): string[] {
  const end = cliArgs.indexOf('--');
  return end < 0 ? [...cliArgs, ...args] : [...cliArgs.slice(0, end), ...args, ...cliArgs.slice(end)];
}
