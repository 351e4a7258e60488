import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');

/** A running `npm run web` server (the real service and engine), started by the test. */
export interface BrowserMode {
  /** The page URL it printed, with its token. */
  url: string;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The script `npm run web` runs, read from package.json so the tests follow
 * whatever the browser-mode server is named, or null when it is not built.
 */
export function browserModeEntry(): { script: string | null; reason: string } {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  // bin/imprint-web.js is what `npm run web` runs; the script's own line wins when it names another.
  const web = pkg.scripts?.web ?? (fs.existsSync(path.join(REPO, 'bin', 'imprint-web.js')) ? 'node bin/imprint-web.js' : undefined);
  if (!web) return { script: null, reason: 'package.json has no "web" script (browser mode not there yet)' };
  const matches = [...web.matchAll(/\bnode\s+(\S+\.js)\b/g)];
  const script = matches.at(-1)?.[1];
  if (!script) return { script: null, reason: `cannot find the node script in "web": ${web}` };
  const full = path.join(REPO, script);
  if (!fs.existsSync(full)) return { script: null, reason: `${script} is not built (run npm run build)` };
  return { script: full, reason: '' };
}

/** How long the server may take to print its URL. Owned here: it only lists drives and binds a port. */
const START_TIMEOUT_MS = 20_000;

/** Starts browser mode as a child process and waits for the URL it prints; `env` adds to its environment (a spec's catalogue, cache folder). */
export async function startBrowserMode(env: Record<string, string> = {}): Promise<BrowserMode> {
  const { script, reason } = browserModeEntry();
  if (!script) throw new Error(reason);
  const child: ChildProcess = spawn(process.execPath, [script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BROWSER: 'none', IMPRINT_BZIP2_DECODER: 'builtin', ...env } });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode printed no URL within ${START_TIMEOUT_MS} ms:\n${out}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+\/\S*/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`browser mode exited with ${code} before printing a URL:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
