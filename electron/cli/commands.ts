import type { Output } from './output';
import { drivesCommand } from './commands/drives';
import { flashCommand } from './commands/flash';
import { verifyCommand } from './commands/verify';
import { hashCommand } from './commands/hash';
import { backupCommand } from './commands/backup';
import { restoreCommand } from './commands/restore';
import { cloneCommand } from './commands/clone';
import { infoCommand } from './commands/info';
import { rescueCommand } from './commands/rescue';
import { checkCommand } from './commands/check';

export interface Command {
  summary: string;
  help: string;
  run(args: string[], out: Output): Promise<number>;
}

/** Every subcommand, by name. A new command registers here and nowhere else. */
export const COMMANDS: Record<string, Command> = {
  drives: drivesCommand,
  flash: flashCommand,
  verify: verifyCommand,
  hash: hashCommand,
  rescue: rescueCommand,
  check: checkCommand,
  backup: backupCommand,
  restore: restoreCommand,
  clone: cloneCommand,
  info: infoCommand,
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
