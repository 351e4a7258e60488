import { expect, type Page, type TestInfo } from '@playwright/test';
import { seriousAxeViolations } from './axe';
import { lowContrastTexts } from './contrast';

export const SCHEMES = ['light', 'dark'] as const;
export const SMALL = { width: 800, height: 600 };
export const LARGE = { width: 1920, height: 1080 };

/**
 * One screen at both sizes in one colour scheme: the primary action is in
 * view at 800x600, nothing scrolls sideways, the page uses a large window's
 * width, every text meets AA contrast, axe-core finds nothing serious or
 * critical (needs `test.use({ bypassCSP: true })`); a screenshot of each is attached.
 */
export async function checkScreen(page: Page, info: TestInfo, name: string, scheme: (typeof SCHEMES)[number], action: string) {
  await page.emulateMedia({ colorScheme: scheme });
  for (const size of [SMALL, LARGE]) {
    await page.setViewportSize(size);
    const button = page.getByRole('button', { name: action, exact: true });
    await expect(button, `${action} in view on ${name} at ${size.width}x${size.height} (${scheme})`).toBeInViewport({ ratio: 1 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${name} at ${size.width}x${size.height} scrolls sideways`).toBeLessThanOrEqual(0);
    if (size === LARGE) {
      const used = await page.evaluate(() => document.querySelector('main')?.getBoundingClientRect().width ?? 0);
      expect(used, `${name} uses a large window's width`).toBeGreaterThan(0.8 * size.width);
    }
    expect(await lowContrastTexts(page), `${name} (${scheme}) text below AA contrast`).toEqual([]);
    // Once per scheme: what axe checks does not change with the window's size, and a run costs about a second.
    if (size === SMALL) expect(await seriousAxeViolations(page), `${name} (${scheme}): serious or critical axe-core violations`).toEqual([]);
    const file = info.outputPath(`${name}-${scheme}-${size.width}x${size.height}.png`);
    await page.screenshot({ path: file });
    await info.attach(`${name}-${scheme}-${size.width}x${size.height}`, { path: file, contentType: 'image/png' });
  }
}
