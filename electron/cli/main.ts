import * as fs from 'fs';
import * as path from 'path';
import { EXIT } from '../../shared/error-codes';
import { ImprintError, toErrorInfo } from '../engine/errors';
import { exitCodeFor } from '../../shared/error-codes';
import { stuckThreads } from '../engine/worker-host';
import { createOutput } from './output';
import { watchBrokenPipes } from './broken-pipe';
import { COMMANDS, usage } from './commands';
import { isParseArgsError, parseArgsErrorMessage, unknownCommandMessage } from './arguments';

/**
 * Entry of the `imprint` command. Returns the exit code: 0 success, 1 the
 * operation failed, 2 refused or bad input.
 */
export async function main(argv: string[]): Promise<number> {
  watchBrokenPipes();
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  const out = createOutput(json);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? EXIT.ok : EXIT.refused;
  }
  if (name === '--version') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    out.info(`imprint: ${unknownCommandMessage(name, Object.keys(COMMANDS))}`);
    return EXIT.refused;
  }
  const command = entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return EXIT.ok;
  }
  try {
    const code = await command.run(rest, out);
    noteStuckThreads(out);
    return code;
  } catch (err) {
    out.done();
    const info = toErrorInfo(isParseArgsError(err) ? new ImprintError('E_BAD_ARGUMENTS', parseArgsErrorMessage(name, err, command.help)) : err);
    if (json) out.result(info.message, { type: 'error', error: info });
    else out.info(`imprint ${name}: ${info.message}`);
    if (info.code === 'E_INTERNAL' && err instanceof Error && err.stack) out.info(err.stack);
    noteStuckThreads(out);
    return exitCodeFor(info.code);
  }
}

/**
 * After a drive stopped responding, a thread of ours may sit in the kernel
 * waiting for it; no signal frees it, and the process (even process.exit,
 * measured) cannot end before it. The report is out; say why we linger.
 */
function noteStuckThreads(out: ReturnType<typeof createOutput>): void {
  const n = stuckThreads();
  if (n > 0) out.info(`imprint: ${n === 1 ? 'a thread is' : `${n} threads are`} still waiting on a drive that stopped responding; the command ends once the drive is unplugged or answers again.`);
}

/** Imprint's version, from package.json (three folders up from out/electron/cli). */
export function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
