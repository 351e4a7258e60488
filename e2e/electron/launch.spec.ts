import { test, expect, _electron as electron } from '@playwright/test';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { REPO } from '../support/browser-mode';

/**
 * Launches the real desktop app where the Electron binary is installed. Here
 * (CI and dev machines without it: ELECTRON_SKIP_BINARY_DOWNLOAD) it says why
 * it cannot, and skips.
 */
function electronBinary(): { path: string | null; reason: string } {
  const req = createRequire(path.join(REPO, 'package.json'));
  try {
    req.resolve('electron');
  } catch {
    return { path: null, reason: 'the electron package is not installed' };
  }
  let exe: unknown;
  try {
    // The package exports the path of its binary, and throws when the binary was never downloaded.
    exe = req('electron');
  } catch (err) {
    return { path: null, reason: `the Electron binary is not installed (${(err as Error).message.split('\n')[0]})` };
  }
  if (typeof exe !== 'string' || !fs.existsSync(exe)) return { path: null, reason: 'the Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD; its download is not possible here)' };
  return { path: exe, reason: '' };
}

function mainScript(): string | null {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { main?: string };
  const main = pkg.main ? path.join(REPO, pkg.main) : null;
  return main && fs.existsSync(main) ? main : null;
}

test('the desktop app opens one window with the four sections', async () => {
  const bin = electronBinary();
  const main = mainScript();
  const why = !bin.path ? bin.reason : !main ? 'package.json "main" (the built Electron main) is missing' : null;
  if (why) console.log(`[e2e electron] skipped: ${why}`);
  test.skip(why !== null, why ?? '');
  const app = await electron.launch({ executablePath: bin.path as string, args: [main as string, '--no-sandbox'] });
  try {
    const window = await app.firstWindow();
    await expect(window.getByRole('tab', { name: 'Flash' })).toBeVisible();
    await expect(window.getByRole('tab', { name: 'Back up' })).toBeVisible();
    await expect(window.getByRole('tab', { name: 'Restore' })).toBeVisible();
    await expect(window.getByRole('tab', { name: 'Format' })).toBeVisible();
    expect(await window.evaluate(() => typeof (window as unknown as { imprint?: unknown }).imprint)).toBe('object');
    expect(await window.evaluate(() => typeof (globalThis as unknown as { require?: unknown }).require)).toBe('undefined');
  } finally {
    await app.close();
  }
});
