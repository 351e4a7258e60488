import * as fs from 'node:fs';
import type { Page } from '@playwright/test';

/** axe-core's own build, read once; injected into the page as a script. */
let source: string | null = null;

/** One axe violation of impact serious or critical, as a line a failure message can show. */
export interface AxeProblem {
  rule: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core on the page as it is now and returns its serious and critical
 * violations (moderate and minor ones are left to review). The page's strict
 * CSP blocks axe unless the browser context was made with `bypassCSP: true`
 * (`test.use({ bypassCSP: true })` in the spec), which this checks.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeProblem[]> {
  source ??= fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const loaded = await page.evaluate((s) => {
    const w = window as unknown as { axe?: unknown };
    if (!w.axe) (0, eval)(s);
    return w.axe !== undefined;
  }, source);
  if (!loaded) throw new Error('axe-core did not load in the page: make the context with bypassCSP: true');
  return page.evaluate(async () => {
    type Result = { id: string; impact?: string | null; help: string; nodes: { target: unknown[] }[] };
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Result[] }> } }).axe;
    const { violations } = await axe.run(document, { resultTypes: ['violations'] });
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ rule: v.id, impact: v.impact as string, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.map(String).join(' ')) }));
  });
}
