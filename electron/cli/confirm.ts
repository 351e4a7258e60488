import * as readline from 'readline';
import { ImprintError } from '../engine/errors';

/**
 * Asks the person at the terminal to agree before anything is erased. Without
 * a terminal there is nobody to ask: `--yes` must say it up front.
 */
export async function confirmErase(lines: string[], yes: boolean, question = 'Erase and write?'): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new ImprintError('E_NOT_CONFIRMED', 'Not confirmed: no terminal to ask. Pass --yes to confirm that the drives above may be erased.');
  }
  for (const line of lines) process.stderr.write(line + '\n');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} Type "yes" to continue: `, resolve));
  rl.close();
  if (answer.trim().toLowerCase() !== 'yes') throw new ImprintError('E_NOT_CONFIRMED', 'Not confirmed: nothing was written.');
}
