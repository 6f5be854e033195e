/**
 * Screenshots of the browser pages as test artifacts: test-results/screenshots/<name>.png (the directory is
 * ignored by git). Taken at a desktop and at a phone-sized viewport.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

export const screenshotDir = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));

/** Writes `<name>.png` (1280 wide) and `<name>-phone.png` (390×844), full page; returns the paths. */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  await mkdir(screenshotDir, { recursive: true });
  const original = page.viewportSize();
  const paths: string[] = [];
  for (const [suffix, size] of [
    ['', { width: 1280, height: 800 }],
    ['-phone', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(size);
    const path = `${screenshotDir}${name}${suffix}.png`;
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  if (original !== null) await page.setViewportSize(original);
  return paths;
}
