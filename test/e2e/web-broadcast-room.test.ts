/**
 * The /broadcast and /room pages in Chromium (fake camera and microphone) against a real Nagare: going live from a
 * channel created in the page and from a `?channel_id=&sora_url=` link without a token, what the page says when the
 * camera is refused, the token is wrong or the channel is deleted, and two people in a room seeing each other.
 * Screenshots of the live pages go to test-results/screenshots.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { callApi, listChannelIds, testToken } from '../helpers/server.ts';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { screenshots } from './harness/screenshots.ts';

const skip = e2eSkipReason();
const tokenKey = 'nagare.apiToken';

interface Described {
  channel_id: string;
  state: string;
  connections: number;
  playlist_url?: string;
}

/** Polls `check` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Bits per second as the page shows them ("812 kbps", "1.20 Mbps"); NaN for anything else. */
function shownBps(text: string | null): number {
  const match = /^([\d.]+) (kbps|Mbps)$/.exec(text ?? '');
  if (match === null) return Number.NaN;
  return Number(match[1]) * (match[2] === 'Mbps' ? 1_000_000 : 1000);
}

describe('the broadcast and room pages', { skip, timeout: 90_000 }, () => {
  const env = useE2eEnvironment();

  async function describeChannel(channelId: string): Promise<Described> {
    const answer = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', {
      channel_id: channelId,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json as Described;
  }

  /** A new tab whose localStorage holds `token` (or no token) before the page's script runs. */
  async function openPage(
    path: string,
    token: string | undefined,
  ): Promise<{ page: Page; errors: string[] }> {
    const page = await env.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(
      ([key, value]) => {
        if (value === null) localStorage.removeItem(key);
        else localStorage.setItem(key, value);
      },
      [tokenKey, token ?? null] as const,
    );
    await page.goto(`${env.server.url}${path}`);
    return { page, errors };
  }

  /** Waits until the <video> matched by `selector` shows pictures. (Page code as a string: no DOM types here.) */
  async function playing(page: Page, selector: string): Promise<void> {
    await page.waitForFunction(
      `(() => {
        const video = document.querySelector(${JSON.stringify(selector)});
        return video !== null && video.readyState >= 2 && video.videoWidth > 0;
      })()`,
      undefined,
      { timeout: 15_000 },
    );
  }

  const liveState = (page: Page, text: string) =>
    page.locator('#live-state', { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: 15_000 });

  test('broadcast: a channel created in the page goes live; the page shows what is sent and the API’s playlist URL', async () => {
    const { page, errors } = await openPage('/broadcast', testToken);
    await playing(page, '#preview');
    assert.ok((await page.locator('#camera option').count()) >= 1, 'the camera list is filled');
    assert.ok((await page.locator('#microphone option').count()) >= 1, 'the microphone list is filled');
    assert.equal(await page.getByLabel('Video codec').inputValue(), 'H264');

    const before = await listChannelIds(env.server.url);
    await page.getByLabel('HLS variants for viewers').selectOption('single');
    await page.getByRole('button', { name: 'Create a channel' }).click();
    await page.locator('#status', { hasText: /created/ }).waitFor();
    const channelId = await page.getByLabel('Go live in').inputValue();
    assert.ok(!before.includes(channelId), 'a new channel is chosen');
    assert.ok((await listChannelIds(env.server.url)).includes(channelId), 'the API lists the new channel');
    const created = await describeChannel(channelId);
    assert.equal(created.state, 'idle');

    await page.getByRole('button', { name: 'Go live' }).click();
    await liveState(page, 'live');
    const bps = await until('a video bitrate above 0', async () => {
      const shown = shownBps(await page.locator('#video-bitrate').textContent());
      return shown > 0 ? shown : undefined;
    });
    assert.ok(bps > 10_000, `video bitrate ${bps}`);
    assert.match((await page.locator('#resolution').textContent()) ?? '', /^\d+×\d+/);
    assert.equal(await page.locator('#codec-sent').textContent(), 'H264');
    assert.equal(
      await page.getByLabel('Camera', { exact: true }).isDisabled(),
      true,
      'devices are fixed while live',
    );

    const live = await until('the channel live with one connection', async () => {
      const described = await describeChannel(channelId);
      return described.state === 'live' && described.connections === 1 ? described : undefined;
    });
    assert.ok(live.playlist_url !== undefined);
    assert.equal(await page.getByLabel('Playlist URL for viewers').inputValue(), live.playlist_url);
    assert.equal(
      await page.getByRole('link', { name: 'Watch it' }).getAttribute('href'),
      `/watch?src=${encodeURIComponent(live.playlist_url)}`,
    );
    await screenshots(page, 'broadcast-live');

    await page.getByRole('button', { name: 'Stop' }).click();
    await liveState(page, 'stopped');
    await page.locator('#status', { hasText: 'Stopped' }).waitFor();
    await until('the channel without connections', async () =>
      (await describeChannel(channelId)).connections === 0 ? true : undefined,
    );
    assert.equal(await page.getByRole('button', { name: 'Go live' }).isEnabled(), true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('broadcast from a ?channel_id=&sora_url= link goes live without a token, and says when the channel is deleted', async () => {
    const channelId = await env.newChannel();
    const link = `/broadcast?${new URLSearchParams({ channel_id: channelId, sora_url: env.signalingUrl() }).toString()}`;
    const { page, errors } = await openPage(link, undefined);
    assert.equal(await page.locator('#api-token').count(), 0, 'no token form');
    assert.equal(await page.locator('#linked-channel').textContent(), channelId);
    await playing(page, '#preview');
    await page.getByLabel('Video codec').selectOption('VP8');
    await page.getByRole('button', { name: 'Go live' }).click();
    await liveState(page, 'live');
    await until('the channel live with one connection', async () => {
      const described = await describeChannel(channelId);
      return described.state === 'live' && described.connections === 1 ? true : undefined;
    });
    await until('the codec sent', async () =>
      (await page.locator('#codec-sent').textContent()) === 'VP8' ? true : undefined,
    );

    const deleted = await callApi(env.server.url, 'ImageFlux_20180501.DeleteChannel', {
      channel_id: channelId,
    });
    assert.equal(deleted.status, 200);
    await liveState(page, 'ended');
    await page.locator('#status[role=alert]', { hasText: 'The channel was deleted.' }).waitFor();

    // Going live again in the deleted channel: signaling closes with 4404, and the page says what that means.
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.locator('#status[role=alert]', { hasText: 'does not exist or was deleted' }).waitFor();
    await liveState(page, 'not live');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('with the camera refused, broadcast and room say so and let the person try again', async () => {
    const page = await env.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(
      "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));",
    );
    const refused = page.locator('#status[role=alert]', { hasText: 'The camera or microphone was refused' });
    await page.goto(`${env.server.url}/broadcast?channel_id=some-channel&sora_url=${env.signalingUrl()}`);
    await refused.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Go live' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Try the camera again' }).isVisible(), true);

    await page.goto(`${env.server.url}/room`);
    await page.getByLabel('Channel ID').fill('some-channel');
    await page.getByRole('button', { name: 'Join' }).click();
    await refused.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Join' }).isEnabled(), true);
    assert.equal(await page.locator('#room').isHidden(), true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('broadcast with a wrong token shows the token form again with a message; the right token lists the channels', async () => {
    const channelId = await env.newChannel();
    const { page, errors } = await openPage('/broadcast', 'not-the-token');
    const tokenInput = page.getByLabel('API token');
    await tokenInput.waitFor();
    await page.locator('#status[role=alert]', { hasText: 'The API token was not accepted' }).waitFor();
    assert.equal(
      await page.evaluate((key) => localStorage.getItem(key), tokenKey),
      null,
      'the wrong token is forgotten',
    );
    assert.equal(await page.locator('#channel-chooser').isHidden(), true);

    await tokenInput.fill(testToken);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.locator(`#channel option[value="${channelId}"]`).waitFor({ state: 'attached' });
    assert.equal(await tokenInput.isHidden(), true);
    assert.equal(await page.evaluate((key) => localStorage.getItem(key), tokenKey), testToken);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('room: two people in one channel see each other, mute, and a leave removes the tile on the other side', async () => {
    const channelId = await env.newChannel();
    const link = `/room?${new URLSearchParams({ channel_id: channelId, sora_url: env.signalingUrl() }).toString()}`;
    const alice = await openPage(link, testToken);
    const bob = await openPage(link, testToken);
    await screenshots(alice.page, 'room-join');
    for (const { page } of [alice, bob]) {
      assert.equal(await page.getByLabel('Channel ID').inputValue(), channelId, 'filled from the link');
      await page.getByRole('button', { name: 'Join' }).click();
    }
    const ownId = async (page: Page) => {
      await page.locator('#status', { hasText: 'You are in the room.' }).waitFor({ timeout: 15_000 });
      const id = await page.locator('#self-tile').getAttribute('data-connection-id');
      assert.ok(id !== null && id.length > 0);
      return id;
    };
    const aliceId = await ownId(alice.page);
    const bobId = await ownId(bob.page);
    const tileOf = (id: string) => `#tiles figure.tile:not(#self-tile)[data-connection-id="${id}"]`;
    await playing(alice.page, `${tileOf(bobId)} video`);
    await playing(bob.page, `${tileOf(aliceId)} video`);
    assert.equal(await alice.page.locator('#tiles figure.tile').count(), 2, 'herself and Bob');
    await until('both connections', async () =>
      (await describeChannel(channelId)).connections === 2 ? true : undefined,
    );
    await bob.page.locator('#room-count', { hasText: '2 people' }).waitFor();

    // With the kept token, the composite playlist for viewers.
    const described = await describeChannel(channelId);
    assert.equal(
      await alice.page.getByLabel(/^Playlist URL for viewers/).inputValue(),
      described.playlist_url,
    );

    /** Whether every track of that kind in the page's own stream (what it sends) is enabled. */
    const trackEnabled = (page: Page, kind: 'audio' | 'video') =>
      page.evaluate<boolean | null>(`(() => {
        const stream = document.querySelector('#self-video')?.srcObject;
        if (!(stream instanceof MediaStream)) return null;
        const tracks = stream.getTracks().filter((track) => track.kind === ${JSON.stringify(kind)});
        return tracks.length > 0 && tracks.every((track) => track.enabled);
      })()`);
    for (const [name, kind, shown] of [
      ['Mute microphone', 'audio', 'microphone muted'],
      ['Turn off camera', 'video', 'camera off'],
    ] as const) {
      const button = alice.page.getByRole('button', { name });
      assert.equal(await button.getAttribute('aria-pressed'), 'false');
      assert.equal(await trackEnabled(alice.page, kind), true);
      await button.click();
      assert.equal(await button.getAttribute('aria-pressed'), 'true', name);
      assert.equal(await trackEnabled(alice.page, kind), false, `${kind} track switched off`);
      assert.match(
        (await alice.page.locator('#self-tile figcaption').textContent()) ?? '',
        new RegExp(shown),
      );
      await button.click();
      assert.equal(await button.getAttribute('aria-pressed'), 'false', name);
      assert.equal(await trackEnabled(alice.page, kind), true, `${kind} track switched on again`);
    }
    await alice.page.getByRole('button', { name: 'Mute microphone' }).click();
    await screenshots(alice.page, 'room');

    await alice.page.getByRole('button', { name: 'Leave' }).click();
    await alice.page.locator('#status', { hasText: 'You left the room.' }).waitFor();
    assert.equal(await alice.page.getByRole('button', { name: 'Join' }).isVisible(), true);
    await bob.page.locator(tileOf(aliceId)).waitFor({ state: 'detached', timeout: 10_000 });
    await bob.page.locator('#room-count', { hasText: 'only you' }).waitFor();
    await until('one connection left', async () =>
      (await describeChannel(channelId)).connections === 1 ? true : undefined,
    );
    assert.deepEqual([...alice.errors, ...bob.errors], []);
    await alice.page.close();
    await bob.page.close();
  });
});
