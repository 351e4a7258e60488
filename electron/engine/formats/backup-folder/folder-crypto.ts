import * as crypto from 'crypto';
import { ImprintError } from '../../errors';
import { cachedDerivation } from './derived-keys';

/**
 * Encryption of a backup folder (`imprint backup DRIVE --into FOLDER
 * --encrypt`, docs/backup-folder.md). Only Node's own crypto: scrypt turns
 * the passphrase and the folder's random salt into a master key; HKDF-SHA-256
 * splits it into independent sub-keys, one per use, so no key ever serves
 * two purposes:
 *
 *   piece   AES-256-GCM of each piece's zstd frame
 *   index   AES-256-GCM of each generation's index
 *   name    HMAC-SHA-256 of a piece's plain content: its name in the folder
 *   check   AES-256-GCM of a fixed text, stored in the marker: a wrong
 *           passphrase is known before anything is read or written
 *
 * A changed passphrase (rewrapFolderKey) does not change the master key: the
 * marker then holds it sealed under what scrypt makes of the new passphrase.
 *
 * Piece names are keyed hashes, so equal data is still stored once within
 * the folder (a name depends only on content and key) while nobody without
 * the passphrase can test a guess of the content against a name, or tell
 * which pieces two folders (different salts, so different keys) share.
 *
 * Nonces are 96 random bits per sealed file. A nonce repeated under one GCM
 * key would expose the XOR of two plaintexts and the authentication key;
 * with random nonces the chance of any repeat among n files is about
 * n^2 / 2^97. NIST SP 800-38D caps random nonces at 2^32 uses per key (a
 * repeat chance under 2^-32): at 256 KiB a piece that is 1 PiB of distinct
 * stored data in one folder, far beyond what a folder of drive backups holds.
 * Counters would need state shared by every writer the folder ever had;
 * random nonces need none.
 */

/** What the folder's marker records about its encryption (everything but the passphrase). */
export interface FolderEncryption {
  cipher: 'aes-256-gcm';
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** base64 of nonce, ciphertext and tag of KEY_CHECK_TEXT under the check sub-key. */
  keyCheck: string;
  /**
   * Present once the passphrase was changed (rewrapFolderKey): base64 of
   * nonce, ciphertext and tag of the master key, sealed under what scrypt
   * makes of the passphrase and `kdf`. Absent, the scrypt result is the
   * master key itself (how every folder starts).
   */
  wrappedKey?: string;
}

/**
 * Cost of a new folder's key: scrypt N=2^17, r=8, p=1, OWASP's minimum for
 * scrypt: 128 MiB and 0.9 s here (2^15 took 0.2 s, 2^16 0.4 s), paid once per
 * command. Percival's 2^20 for file encryption would be 1 GiB and 7 s per
 * command. Recorded in the marker, so a later Imprint may raise it for new
 * folders and still open old ones.
 */
export const DEFAULT_KDF = { N: 1 << 17, r: 8, p: 1 } as const;
/**
 * What a folder's marker may ask for (a crafted marker must not make us spend
 * gigabytes or minutes): N a power of two from 2^14 to 2^20, r 1..16, p 1..4,
 * memory 128·N·r at most 2 GiB.
 */
const MAX_MEMORY = 2 ** 31;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_CHECK_TEXT = Buffer.from('imprint backup folder key check v1');
const KEY_CHECK_AAD = Buffer.from('imprint key check v1');
const WRAPPED_KEY_AAD = Buffer.from('imprint wrapped master key v1');
const KEY_BYTES = 32;
/** First bytes of a sealed piece file: says what it is to a person running `file` or `xxd` on it. */
const PIECE_MAGIC = Buffer.from('IMPE');
/** Extra bytes a sealed piece has beyond its zstd frame: magic, nonce, tag. */
export const SEALED_PIECE_OVERHEAD = PIECE_MAGIC.length + NONCE_BYTES + TAG_BYTES;
/** Bytes sealing adds to a generation's names file (FolderKeys.sealNames). */
export const SEALED_NAMES_OVERHEAD = NONCE_BYTES + TAG_BYTES;

const isPow2 = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Why a record's key derivation is unusable (unknown, or a cost out of bounds), or null. */
function kdfProblem(k: Record<string, unknown> | null | undefined): string | null {
  if (!k || k.name !== 'scrypt') return 'its key derivation is not scrypt';
  const { N, r, p, salt } = k;
  if (typeof N !== 'number' || !isPow2(N) || N < 1 << 14 || N > 1 << 20) return `scrypt N=${String(N)} is out of bounds`;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 16) return `scrypt r=${String(r)} is out of bounds`;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 4) return `scrypt p=${String(p)} is out of bounds`;
  if (128 * N * r > MAX_MEMORY) return 'its scrypt parameters need more than 2 GiB';
  if (typeof salt !== 'string' || Buffer.from(salt, 'base64').length !== SALT_BYTES) return 'its salt is not 16 bytes';
  return null;
}

/** Why a marker's encryption record is unusable, or null. */
export function encryptionProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'no encryption record';
  const e = v as Record<string, unknown>;
  if (e.cipher !== 'aes-256-gcm') return `cipher ${JSON.stringify(e.cipher)} is not one Imprint knows`;
  const problem = kdfProblem(e.kdf as Record<string, unknown> | null | undefined);
  if (problem) return problem;
  if (typeof e.keyCheck !== 'string' || Buffer.from(e.keyCheck, 'base64').length !== NONCE_BYTES + KEY_CHECK_TEXT.length + TAG_BYTES) return 'its key check is malformed';
  if (e.wrappedKey !== undefined && (typeof e.wrappedKey !== 'string' || Buffer.from(e.wrappedKey, 'base64').length !== NONCE_BYTES + KEY_BYTES + TAG_BYTES)) return 'its wrapped key is malformed';
  return null;
}

function seal(key: Buffer, aad: Buffer, parts: Buffer[], prefix: Buffer = Buffer.alloc(0)): Buffer {
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const body = parts.map((p) => c.update(p));
  const final = c.final();
  return Buffer.concat([prefix, nonce, ...body, final, c.getAuthTag()]);
}

/** The plain text of `sealed` (nonce, ciphertext, tag), or null when it does not authenticate under `key` and `aad`. */
function open(key: Buffer, aad: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return null;
  const d = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([body, d.final()]);
  } catch {
    return null;
  }
}

/** AAD of a piece: binds the sealed bytes to the piece's name and plain length, so a piece cannot stand in for another. */
function pieceAad(name: string, length: number): Buffer {
  return Buffer.from(`imprint piece v1\0${name}\0${length}`);
}

/** AAD of a generation's index: binds it to its id (its file name), so an index cannot be renamed into another generation. */
function indexAad(id: string): Buffer {
  return Buffer.from(`imprint index v1\0${id}`);
}

function namesAad(id: string): Buffer {
  return Buffer.from(`imprint piece names v1\0${id}`);
}

/**
 * The two sub-keys a thread that reads a folder's pieces needs, as bytes that
 * workerData can carry (FolderKeys.pieceKeyBytes, FolderKeys.forPieces).
 */
export interface PieceKeyBytes {
  piece: Uint8Array;
  name: Uint8Array;
}

/** The keys of an unlocked folder. Holds secrets: never logged, never sent over IPC. */
export class FolderKeys {
  private constructor(
    private readonly pieceKey: Buffer,
    /** Null in keys made for a thread that only reads pieces (forPieces). */
    private readonly indexKey: Buffer | null,
    private readonly nameKey: Buffer,
  ) {}

  /**
   * The piece and name sub-keys, for a restore's decoding threads (workerData
   * copies them into the thread, inside this process; nothing leaves it). Not
   * the index key, nor the master key: those threads neither read nor write
   * indexes. An encrypted folder's pieces were opened on the restore's own
   * thread, one after the other, so its restores ran at about half the speed
   * of a plain folder's (docs/backup-folder.md).
   */
  pieceKeyBytes(): PieceKeyBytes {
    return { piece: Uint8Array.from(this.pieceKey), name: Uint8Array.from(this.nameKey) };
  }

  /** Keys that name, seal and open pieces, from pieceKeyBytes() on another thread; their index methods refuse. */
  static forPieces(k: PieceKeyBytes): FolderKeys {
    if (k.piece.length !== 32 || k.name.length !== 32) throw new ImprintError('E_INTERNAL', 'Piece keys must be 32 bytes each.');
    return new FolderKeys(Buffer.from(k.piece), null, Buffer.from(k.name));
  }

  private indexKeyOrRefuse(): Buffer {
    if (!this.indexKey) throw new ImprintError('E_INTERNAL', "These keys were made for reading pieces only; they cannot open or seal a generation's index.");
    return this.indexKey;
  }

  /** Derives the keys from `passphrase` and the folder's record; throws E_WRONG_PASSPHRASE when its key check does not open. */
  static unlock(passphrase: string, enc: FolderEncryption, folder: string): FolderKeys {
    return FolderKeys.fromMaster(unlockMaster(passphrase, enc, folder));
  }

  /** A new folder's encryption record and keys: a random salt, the default cost, a key check. */
  static create(passphrase: string): { record: FolderEncryption; keys: FolderKeys } {
    const kdf = { name: 'scrypt' as const, ...DEFAULT_KDF, salt: crypto.randomBytes(SALT_BYTES).toString('base64') };
    const master = derive(passphrase, kdf);
    const keyCheck = seal(subKey(master, 'check'), KEY_CHECK_AAD, [KEY_CHECK_TEXT]).toString('base64');
    return { record: { cipher: 'aes-256-gcm', kdf, keyCheck }, keys: FolderKeys.fromMaster(master) };
  }

  private static fromMaster(master: Buffer): FolderKeys {
    return new FolderKeys(subKey(master, 'piece'), subKey(master, 'index'), subKey(master, 'name'));
  }

  /** A piece's name: HMAC-SHA-256 of its plain content under the name key, in hex. */
  pieceName(data: Uint8Array): string {
    return crypto.createHmac('sha256', this.nameKey).update(data).digest('hex');
  }

  /** A piece file: magic, nonce, AES-256-GCM of the zstd `frame`, tag. */
  sealPiece(name: string, length: number, frame: Buffer): Buffer {
    return seal(this.pieceKey, pieceAad(name, length), [frame], PIECE_MAGIC);
  }

  /** The zstd frame inside a piece file, or why not. */
  openPiece(name: string, length: number, file: Buffer): { frame: Buffer } | { problem: string } {
    if (file.length < SEALED_PIECE_OVERHEAD || !file.subarray(0, PIECE_MAGIC.length).equals(PIECE_MAGIC)) return { problem: 'is not a sealed piece' };
    const frame = open(this.pieceKey, pieceAad(name, length), file.subarray(PIECE_MAGIC.length));
    return frame ? { frame } : { problem: 'fails authentication (altered or damaged)' };
  }

  sealIndex(id: string, json: Buffer): Buffer {
    return seal(this.indexKeyOrRefuse(), indexAad(id), [json]);
  }

  /** The index's JSON, or null when it does not authenticate as generation `id`'s. */
  openIndex(id: string, sealed: Buffer): Buffer | null {
    return open(this.indexKeyOrRefuse(), indexAad(id), sealed);
  }

  /** A generation's piece names file (schema 3 indexes, piece-list.ts) sealed for generation `id`: its own binding, so it never opens as an index. */
  sealNames(id: string, names: Buffer): Buffer {
    return seal(this.indexKeyOrRefuse(), namesAad(id), [names]);
  }

  /** The piece names, or null when they do not authenticate as generation `id`'s. */
  openNames(id: string, sealed: Buffer): Buffer | null {
    return open(this.indexKeyOrRefuse(), namesAad(id), sealed);
  }
}

/**
 * A new encryption record for the folder whose record is `enc`, opened by
 * `next` instead of `current` (`imprint backups passphrase`): the master key
 * stays the same, so every piece, name and index stays as it is, and only
 * the marker is rewritten. It is sealed under what scrypt makes of `next`
 * with a fresh salt (the default cost). Throws E_WRONG_PASSPHRASE when
 * `current` does not open the folder. Whoever kept the old marker and knows
 * the old passphrase can still derive the master key: a changed passphrase
 * protects from then on, it does not re-encrypt what was stored (as borg's
 * key change-passphrase).
 */
export function rewrapFolderKey(current: string, next: string, enc: FolderEncryption, folder: string): FolderEncryption {
  const master = unlockMaster(current, enc, folder);
  const kdf = { name: 'scrypt' as const, ...DEFAULT_KDF, salt: crypto.randomBytes(SALT_BYTES).toString('base64') };
  const wrappedKey = seal(derive(next, kdf), WRAPPED_KEY_AAD, [master]).toString('base64');
  return { cipher: 'aes-256-gcm', kdf, keyCheck: enc.keyCheck, wrappedKey };
}

/**
 * The folder's master key from `passphrase`: what scrypt makes of it, or,
 * once the passphrase was changed, the key sealed under that. The key check
 * must then open under its check sub-key; E_WRONG_PASSPHRASE otherwise.
 */
function unlockMaster(passphrase: string, enc: FolderEncryption, folder: string): Buffer {
  const wrong = (): ImprintError => new ImprintError('E_WRONG_PASSPHRASE', `Wrong passphrase for the encrypted backup folder ${folder} (or its imprint-backup-folder.json was altered). Nothing was read or written.`);
  const derived = derive(passphrase, enc.kdf);
  const master = enc.wrappedKey === undefined ? derived : open(derived, WRAPPED_KEY_AAD, Buffer.from(enc.wrappedKey, 'base64'));
  if (!master || master.length !== KEY_BYTES) throw wrong();
  const text = open(subKey(master, 'check'), KEY_CHECK_AAD, Buffer.from(enc.keyCheck, 'base64'));
  if (!text || !text.equals(KEY_CHECK_TEXT)) throw wrong();
  return master;
}

/** What scrypt makes of the passphrase and the record's salt and cost; the cost is checked again here, whoever read the record. */
function derive(passphrase: string, kdf: FolderEncryption['kdf']): Buffer {
  const problem = kdfProblem(kdf as unknown as Record<string, unknown>);
  if (problem) throw new ImprintError('E_NOT_A_BACKUP', `The backup folder's encryption record is not usable: ${problem}.`);
  const { N, r, p, salt } = kdf;
  const nfc = passphrase.normalize('NFC');
  return cachedDerivation(nfc, JSON.stringify([N, r, p, salt]), () => crypto.scryptSync(nfc, Buffer.from(salt, 'base64'), KEY_BYTES, { N, r, p, maxmem: 128 * N * r * p + (32 << 20) }));
}

function subKey(master: Buffer, use: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', master, Buffer.alloc(0), `imprint backup folder ${use} key v1`, 32));
}
