import * as crypto from 'crypto';

/**
 * Master keys this process has already derived, so that opening the same
 * encrypted folder again costs no second scrypt. scrypt is the point of the
 * passphrase (0.9 s and 128 MiB here, on purpose), but the desktop app opens
 * a folder several times for one restore (list, read the generation, run),
 * and each of those blocked main's event loop for that long.
 *
 * An entry is named by an HMAC of the passphrase and the folder's KDF record
 * under a key made fresh for each process, so nothing here lets anyone test
 * passphrases faster than scrypt does; the master keys themselves are what a
 * running job holds in memory anyway. A few entries, oldest out first.
 */
const MAX_ENTRIES = 4;
const nameKey = crypto.randomBytes(32);
const derived = new Map<string, Buffer>();

function entryName(passphrase: string, kdfRecord: string): string {
  return crypto.createHmac('sha256', nameKey).update(kdfRecord).update('\0').update(passphrase, 'utf8').digest('hex');
}

/** The derived key for this passphrase and KDF record, computing it with `derive` only the first time. */
export function cachedDerivation(passphrase: string, kdfRecord: string, derive: () => Buffer): Buffer {
  const name = entryName(passphrase, kdfRecord);
  const known = derived.get(name);
  if (known) return known;
  const key = derive();
  derived.set(name, key);
  while (derived.size > MAX_ENTRIES) {
    const oldest = derived.keys().next();
    if (oldest.done) break;
    derived.delete(oldest.value);
  }
  return key;
}

/** Forgets every derived key (tests; a front end may call it when the user locks the app). */
export function forgetDerivedKeys(): void {
  derived.clear();
}
