import type { Page, TestInfo } from '@playwright/test';
import { expect } from '@playwright/test';
import * as path from 'node:path';
import { REPO } from './browser-mode';

export const SCREENS_DIR = path.join(REPO, 'test-results', 'screens');

/** The two window sizes the layout must hold at. */
export const SIZES = [
  { width: 800, height: 600 },
  { width: 1920, height: 1080 },
] as const;

/**
 * Saves a screenshot of this step at 800x600 and 1920x1080 (attached to the
 * report too) and checks that the page does not overflow sideways at either.
 */
export async function screens(page: Page, info: TestInfo, step: string): Promise<void> {
  const before = page.viewportSize();
  for (const size of SIZES) {
    await page.setViewportSize(size);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${step} at ${size.width}x${size.height} scrolls sideways`).toBeLessThanOrEqual(0);
    const file = path.join(SCREENS_DIR, `${step}-${size.width}x${size.height}.png`);
    await page.screenshot({ path: file });
    await info.attach(`${step}-${size.width}x${size.height}`, { path: file, contentType: 'image/png' });
  }
  if (before) await page.setViewportSize(before);
}

/**
 * Records every aria-valuenow the progressbar takes, from inside the page, so
 * a test sees the progress even when a small job finishes between two polls.
 */
export async function recordProgress(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: number[] = [];
    (window as unknown as { __progressSeen: number[] }).__progressSeen = seen;
    const note = () => {
      for (const el of document.querySelectorAll('[role=progressbar][aria-valuenow]')) {
        const v = Number(el.getAttribute('aria-valuenow'));
        if (seen.at(-1) !== v) seen.push(v);
      }
    };
    new MutationObserver(note).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}

export async function progressSeen(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { __progressSeen?: number[] }).__progressSeen ?? []);
}
