import * as fs from 'fs';
import { ImprintError } from '../engine/errors';
import { isEncryptedFolder } from '../engine/formats/backup-folder/folder-keys';
import { parseFolderRef } from '../engine/formats/backup-folder/folder-ref';

/**
 * Where the passphrase of an encrypted backup folder comes from: a file
 * (`--passphrase-file F`: its content, one trailing newline dropped), an
 * environment variable named by `--passphrase-env NAME` (the name, never the
 * secret, is on the command line, where `ps` shows it), or the person at the
 * terminal, asked without echo (twice when a new folder is being made). Read
 * here, at the edge; the engine takes it as a parameter.
 */

/** The options every command that reads or writes a backup folder takes (spread into parseArgs). */
export const PASSPHRASE_OPTIONS = {
  'passphrase-file': { type: 'string' },
  'passphrase-env': { type: 'string' },
} as const;

export const PASSPHRASE_HELP = `  --passphrase-file F   an encrypted folder's passphrase: the content of F
                        (one trailing newline is dropped)
  --passphrase-env NAME the passphrase is in environment variable NAME
                        (without either, a terminal is asked, without echo)`;

/** `imprint backups passphrase`'s options for the new passphrase, as PASSPHRASE_OPTIONS are for the current one. */
export const NEW_PASSPHRASE_OPTIONS = {
  'new-passphrase-file': { type: 'string' },
  'new-passphrase-env': { type: 'string' },
} as const;

/** A passphrase file larger than this is not a passphrase (someone gave the wrong file). */
const MAX_PASSPHRASE_FILE = 64 << 10;

type PassphraseValues = { 'passphrase-file'?: string | boolean; 'passphrase-env'?: string | boolean };

/** The passphrase the options give, or null when they give none. */
export function passphraseFromOptions(values: PassphraseValues, env: NodeJS.ProcessEnv = process.env, flag = 'passphrase'): string | null {
  const file = values['passphrase-file'];
  const name = values['passphrase-env'];
  if (typeof file === 'string' && typeof name === 'string') throw new ImprintError('E_BAD_ARGUMENTS', `Give --${flag}-file or --${flag}-env, not both.`);
  let pass: string;
  if (typeof file === 'string') {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      throw new ImprintError('E_BAD_ARGUMENTS', `The passphrase file ${file} does not exist.`);
    }
    if (!st.isFile() || st.size > MAX_PASSPHRASE_FILE) throw new ImprintError('E_BAD_ARGUMENTS', `${file} is not a passphrase file (a small file holding the passphrase).`);
    pass = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } else if (typeof name === 'string') {
    const v = env[name];
    if (v === undefined) throw new ImprintError('E_BAD_ARGUMENTS', `--${flag}-env ${name}: no environment variable ${name} is set.`);
    pass = v;
  } else {
    return null;
  }
  if (pass.length === 0) throw new ImprintError('E_BAD_ARGUMENTS', 'The passphrase given is empty.');
  return pass;
}

/**
 * The passphrase for `folder`: from the options if given; else, when the
 * folder is encrypted (or `creating` an encrypted one), asked on the
 * terminal; else null (the engine then says an encrypted folder needs one).
 */
export async function passphraseFor(folder: string, values: PassphraseValues, creating = false): Promise<string | null> {
  const given = passphraseFromOptions(values);
  if (given !== null) return given;
  if (!creating && !isEncryptedFolder(folder)) return null;
  if (!process.stdin.isTTY) return null;
  return askPassphrase(`Passphrase for ${folder}: `, creating ? { prompt: 'The same passphrase again: ', differs: 'The two passphrases differ; nothing was written.' } : null);
}

/** A passphrase asked on the terminal (not empty), and asked `again` to be typed the same when given. */
async function askPassphrase(prompt: string, again: { prompt: string; differs: string } | null): Promise<string> {
  const pass = await askHidden(prompt);
  if (pass.length === 0) throw new ImprintError('E_BAD_ARGUMENTS', 'The passphrase given is empty.');
  if (again && (await askHidden(again.prompt)) !== pass) throw new ImprintError('E_BAD_ARGUMENTS', again.differs);
  return pass;
}

/** The passphrase for `source` when it is a backup folder's FOLDER[#GEN] (ls and extract take --passphrase-file/--passphrase-env); null otherwise. */
export async function browsePassphrase(source: string, values: { 'passphrase-file'?: string | boolean; 'passphrase-env'?: string | boolean }): Promise<string | null> {
  const ref = parseFolderRef(source);
  if (!ref) {
    if (passphraseFromOptions(values) !== null) throw new ImprintError('E_BAD_ARGUMENTS', '--passphrase-file and --passphrase-env are for encrypted backup folders (FOLDER[#GEN]).');
    return null;
  }
  return passphraseFor(ref.folder, values);
}

/** One line from the terminal, not echoed. Ctrl-C or Ctrl-D stops (nothing is written). */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new ImprintError('E_NOT_CONFIRMED', 'No passphrase given: nothing was written.'));
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
        else if (ch >= ' ') line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/**
 * The new passphrase of `imprint backups passphrase`: from
 * --new-passphrase-file or --new-passphrase-env, else asked twice on the
 * terminal; null when there is none to ask (the engine then says so).
 */
export async function newPassphrase(folder: string, values: { 'new-passphrase-file'?: string | boolean; 'new-passphrase-env'?: string | boolean }): Promise<string | null> {
  const given = passphraseFromOptions({ 'passphrase-file': values['new-passphrase-file'], 'passphrase-env': values['new-passphrase-env'] }, process.env, 'new-passphrase');
  if (given !== null) return given;
  if (!process.stdin.isTTY) return null;
  return askPassphrase(`New passphrase for ${folder}: `, { prompt: 'The same new passphrase again: ', differs: 'The two passphrases differ; nothing was changed.' });
}
