import { ImprintError } from '../engine/errors';

/**
 * What a person typed wrong on the command line, said plainly: a mistyped
 * option or command gets the nearest real one ("did you mean --yes?"), a
 * missing argument is named. Node's parseArgs messages (which quote oddly
 * and suggest nothing) never reach the user.
 */

/** Edits between two words, a swap of neighbours counting as one (`yse` -> `yes` is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate a typo most likely meant: the one a unique prefix names, else
 * the nearest within a third of the word's length (at least one edit), or null.
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  if (word.replace(/^-+/, '').length < 2) return null; // `-x` or `--`: too short to guess from
  const prefixed = candidates.filter((c) => c.startsWith(word));
  if (prefixed.length === 1) return prefixed[0] ?? null;
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(word, c);
    if (distance <= limit && distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  return best;
}

/** The long options a command's --help names (`--yes`...), plus --help and --json. */
export function optionsIn(help: string): string[] {
  const found = new Set(['--help', '--json']);
  for (const m of help.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)) if (m[1]) found.add(m[1]);
  return [...found];
}

export function unknownCommandMessage(name: string, commands: readonly string[]): string {
  const guess = closest(name, commands);
  return `unknown command ${name}${guess ? `; did you mean ${guess}?` : '.'} Run imprint --help for the commands.`;
}

interface ParseArgsError {
  code: string;
  message: string;
}

export function isParseArgsError(err: unknown): err is ParseArgsError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof TypeError && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** A parseArgs error from `imprint <command>`, in the CLI's words. */
export function parseArgsErrorMessage(command: string, err: ParseArgsError, help: string): string {
  const see = `See imprint ${command} --help.`;
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  if (unknown?.[1]) {
    const option = unknown[1];
    const guess = closest(option.split('=')[0] ?? option, optionsIn(help));
    return `unknown option ${option}${guess ? `; did you mean ${guess}?` : '.'} ${see}`;
  }
  const missingValue = /^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(err.message);
  if (missingValue?.[1]) return `option ${missingValue[1]} needs a value. ${see}`;
  const noValue = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(err.message);
  if (noValue?.[1]) return `option ${noValue[1]} takes no value. ${see}`;
  return `${err.message.replace(/'/g, '')}. ${see}`;
}

/**
 * Checks a command's positional arguments against its usage words (`IMAGE
 * TARGET...`: a word ending in `...` takes one or more) and returns them;
 * when one is missing it says which, when there are too many, which is extra.
 * Callers may then index the result up to the number of words.
 */
export function positionalArgs(command: string, positionals: string[], usage: string): string[] {
  const words = usage.split(' ');
  const variadic = words[words.length - 1]?.endsWith('...') === true;
  const line = `Usage: imprint ${command} ${usage} (see imprint ${command} --help).`;
  const missing = words[positionals.length];
  if (missing !== undefined) throw new ImprintError('E_BAD_ARGUMENTS', `missing ${missing.replace(/\.\.\.$/, '')}. ${line}`);
  if (!variadic && positionals.length > words.length) throw new ImprintError('E_BAD_ARGUMENTS', `unexpected argument ${positionals[words.length]}. ${line}`);
  return positionals;
}
