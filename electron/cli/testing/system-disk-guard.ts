/**
 * A safety net for tests that run the real CLI: preloaded into the child
 * process (and, through NODE_OPTIONS, into every worker thread), it refuses to
 * open for writing any block device that is not a loop device, and logs the
 * attempt. Tests then assert the log stayed empty. It does not replace the
 * engine's own refusal; it makes a bug in it harmless to this machine.
 */
// The real module object, not an import wrapper: patching it reaches every importer.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import fs = require('fs');

const LOOP_MAJOR = 7;
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_RDWR;

function wantsWrite(flags: unknown): boolean {
  if (typeof flags === 'number') return (flags & WRITE_FLAGS) !== 0;
  if (typeof flags === 'string') return /[wa+]/.test(flags);
  return false;
}

function forbidden(p: unknown, flags: unknown): boolean {
  if (!wantsWrite(flags) || (typeof p !== 'string' && !Buffer.isBuffer(p) && !(p instanceof URL))) return false;
  try {
    const st = fs.statSync(p);
    return st.isBlockDevice() && Math.floor(st.rdev / 256) % 4096 !== LOOP_MAJOR;
  } catch {
    return false;
  }
}

function refuse(p: unknown): NodeJS.ErrnoException {
  const message = `TEST GUARD: refused to open ${String(p)} for writing (not a loop device)`;
  const log = process.env.IMPRINT_TEST_GUARD_LOG;
  if (log) fs.appendFileSync(log, message + '\n');
  return Object.assign(new Error(message), { code: 'EPERM' });
}

const { openSync, open } = fs;
const promisesOpen = fs.promises.open;
// The real module objects (not an import wrapper), so every importer sees the patch.
const fsModule = fs as unknown as Record<string, unknown>;
const promisesModule = fs.promises as unknown as Record<string, unknown>;

fsModule.openSync = function guardedOpenSync(this: unknown, p: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode | null): number {
  if (forbidden(p, flags)) throw refuse(p);
  return openSync.call(fs, p, flags ?? 'r', mode);
} as typeof fs.openSync;

fsModule.open = function guardedOpen(this: unknown, p: fs.PathLike, ...rest: unknown[]): void {
  const flags = typeof rest[0] === 'function' ? undefined : rest[0];
  if (forbidden(p, flags)) {
    const cb = rest.find((r) => typeof r === 'function') as ((err: Error) => void) | undefined;
    const err = refuse(p);
    process.nextTick(() => cb?.(err));
    return;
  }
  (open as (...args: unknown[]) => void).call(fs, p, ...rest);
} as typeof fs.open;

promisesModule.open = async function guardedPromisesOpen(p: fs.PathLike | fs.promises.FileHandle, flags?: string | number, mode?: fs.Mode) {
  if (forbidden(p, flags)) throw refuse(p);
  return promisesOpen.call(fs.promises, p as fs.PathLike, flags, mode);
} as typeof fs.promises.open;
