/**
 * The home page served by Nagare itself: built assets only (no CDN), the server's state, links to every page,
 * keyboard reachable. Screenshots go to test-results/screenshots.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { screenshots } from './harness/screenshots.ts';
import { createChannel, testToken } from '../helpers/server.ts';

const skip = e2eSkipReason();

describe('the home page', { skip, timeout: 60_000 }, () => {
  const env = useE2eEnvironment();

  test('says what the server is, that it runs, links every page, and loads nothing from elsewhere', async () => {
    const page = await env.browser.newPage();
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${env.server.url}/`);
    await page.getByText('running').waitFor({ timeout: 10_000 });
    assert.equal(await page.title(), 'Nagare');
    for (const name of ['Broadcast', 'Watch', 'Room', 'Admin']) {
      const link = page.getByRole('link', { name: new RegExp(`^${name}`) }).first();
      assert.ok(await link.isVisible(), `${name} link`);
    }
    assert.deepEqual(errors, []);
    const origin = new URL(env.server.url).origin;
    assert.deepEqual(
      requested.filter((url) => !url.startsWith(origin)),
      [],
      'every byte comes from the server itself',
    );
    await screenshots(page, 'home');
    // Keyboard: the first Tab reaches the skip link, and following it lands on the main content.
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate<string | null>('document.activeElement?.textContent ?? null'),
      'Skip to content',
    );
    await page.close();
  });

  test('an API call (X-Sora-Target) to / is still the API, and unknown assets are 404', async () => {
    const api = await fetch(`${env.server.url}/`, {
      headers: { 'X-Sora-Target': 'ImageFlux_20200729.ListChannelIDs' },
    });
    assert.equal(api.status, 405);
    const page = await fetch(`${env.server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    for (const path of ['/assets/nope.js', '/assets/../package.json', '/broadcast/']) {
      assert.equal((await fetch(`${env.server.url}${path}`)).status, 404, path);
    }
    const css = await fetch(`${env.server.url}/assets/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  });

  test('every page: each control has an accessible name, and nothing scrolls sideways on a phone', async () => {
    await createChannel(env.server.url);
    for (const path of ['/', '/broadcast', '/watch', '/room', '/admin']) {
      const page = await env.browser.newPage();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.addInitScript(`localStorage.setItem('nagare.apiToken', ${JSON.stringify(testToken)})`);
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${env.server.url}${path}`);
      await page.waitForLoadState('networkidle');
      const report = await page.evaluate<{ unnamed: string[]; scrollWidth: number }>(`(() => {
          const unnamed = [];
          for (const el of document.querySelectorAll('input, select, textarea, button')) {
            if (el.type === 'hidden' || el.closest('[hidden]')) continue;
            const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') ||
              el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim() !== '');
            if (!named) unnamed.push(el.outerHTML.slice(0, 120));
          }
          return { unnamed, scrollWidth: document.documentElement.scrollWidth };
        })()`);
      assert.deepEqual(report.unnamed, [], `${path}: controls without a name`);
      assert.ok(report.scrollWidth <= 390, `${path}: ${report.scrollWidth} px wide on a 390 px screen`);
      assert.deepEqual(errors, [], `${path}: page errors`);
      await page.close();
    }
  });
});
