import { test, expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { browserModeEntry, startBrowserMode, type BrowserMode } from './browser-mode';
import { canUseLoopDevices, detachLoop, type LoopDevice } from './loop-devices';

/**
 * What every browser-mode spec needs: a scratch folder, loop devices it
 * detaches at the end, and the real browser-mode server. Specs that cannot
 * run here (no root, server not built) are skipped with the reason printed.
 */
export interface Session {
  dir: string;
  server: BrowserMode;
  loops: LoopDevice[];
}

export function whyNotRunnable(): string | null {
  const loops = canUseLoopDevices();
  if (loops) return loops;
  const { script, reason } = browserModeEntry();
  return script ? null : reason;
}

/**
 * Registers beforeAll/afterAll for a spec file; `setup` makes its images and loop devices before the server starts,
 * and may return environment variables for the server (what it set up: a catalogue's address, a cache folder).
 */
export function useSession(name: string, setup: (dir: string, loops: LoopDevice[]) => Promise<void | Record<string, string>>): () => Session {
  let session: Session | null = null;
  const loops: LoopDevice[] = [];
  let dir = '';
  test.beforeAll(async () => {
    const why = whyNotRunnable();
    if (why) {
      console.log(`[e2e ${name}] skipped: ${why}`);
      test.skip(true, why);
      return;
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `imprint-e2e-${name}-`));
    const env = await setup(dir, loops);
    session = { dir, loops, server: await startBrowserMode(env ?? {}) };
  });
  test.afterAll(async () => {
    await session?.server.stop();
    for (const loop of loops) await detachLoop(loop);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!session) throw new Error('session not started');
    return session;
  };
}

/** Opens the app and waits for the first drive list. */
export async function openApp(page: Page, url: string): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.getByRole('tab', { name: 'Flash' })).toBeVisible();
  await expect(page.getByText('Looking for drives…')).toHaveCount(0);
  expect(errors, 'errors in the page').toEqual([]);
}

/** The checkbox (or radio) of a drive, found as a person would: by its device path. */
export function driveControl(page: Page, device: string, role: 'checkbox' | 'radio' = 'checkbox') {
  return page.getByRole(role, { name: new RegExp(`${device.replace(/[/]/g, '\\/')}\\b`) });
}
