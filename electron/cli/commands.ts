import type { Output } from './output';
export interface Command {
  help: string;
  run(args: string[], out: Output): Promise<number>;
}

/**
 * Every subcommand, by name: its one-line summary for `imprint --help`, and
 * its module, loaded only when it runs (a flash does not load backup's or
 * rescue's code: start-up counts in every wall-clock figure). A new command
 * registers here and nowhere else.
 */
/** A command's module, required when it runs (a plain require: it also works from inside an asar archive). */
function lazy(file: string, name: string): Command {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(file) as Record<string, Command>)[name] as Command;
}

export const COMMANDS: Record<string, { summary: string; load(): Command }> = {
  drives: { summary: 'List drives (removable first)', load: () => lazy('./commands/drives', 'drivesCommand') },
  flash: { summary: 'Write an image to one or more drives, then verify by reading back', load: () => lazy('./commands/flash', 'flashCommand') },
  verify: { summary: 'Check that a drive holds an image, reading the drive itself', load: () => lazy('./commands/verify', 'verifyCommand') },
  hash: { summary: "Digest of an image's uncompressed content, or of a drive", load: () => lazy('./commands/hash', 'hashCommand') },
  rescue: { summary: 'Save what can still be read from a failing drive (GNU ddrescue\'s method)', load: () => lazy('./commands/rescue', 'rescueCommand') },
  check: { summary: 'Test whether a drive really holds what it claims (counterfeit check)', load: () => lazy('./commands/check', 'checkCommand') },
  backup: { summary: 'Back up a whole drive to a compressed, verified image file', load: () => lazy('./commands/backup', 'backupCommand') },
  backups: { summary: 'List, verify, prune or export the generations of a backup folder (imprint backup DEVICE --into FOLDER)', load: () => lazy('./commands/backups', 'backupsCommand') },
  restore: { summary: 'Write a backup back to one or more drives, checked against its recorded SHA-256', load: () => lazy('./commands/restore', 'restoreCommand') },
  clone: { summary: 'Copy a drive onto one or more other drives, verified', load: () => lazy('./commands/clone', 'cloneCommand') },
  catalogue: { summary: 'List what an OS catalogue offers (Raspberry Pi Imager, Fedora Media Writer lists)', load: () => lazy('./commands/catalogue', 'catalogueCommand') },
  cache: { summary: 'List or clear the verified downloads kept for flashing again', load: () => lazy('./commands/cache', 'cacheCommand') },
  ls: { summary: 'List partitions, or files in a partition, of an image, backup or drive (read-only)', load: () => lazy('./commands/ls', 'lsCommand') },
  extract: { summary: 'Copy files or folders out of an image, backup or drive without restoring it', load: () => lazy('./commands/extract', 'extractCommand') },
  format: { summary: 'Return a drive to normal use: one partition over the whole drive, FAT32 or exFAT', load: () => lazy('./commands/format', 'formatCommand') },
  info: { summary: 'Describe an image, a backup or a drive: format, size, partitions, filesystems', load: () => lazy('./commands/info', 'infoCommand') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: imprint <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `imprint <command> --help` for its options. Every command takes --json for',
    'newline-delimited JSON events on stdout.',
    'Exit codes: 0 success, 1 the operation failed, 2 refused or bad input.',
    '',
  ].join('\n');
}
