/**
 * The /watch and /admin pages as people use them, against a real server with a channel that a sora-js-sdk
 * client publishes Chromium's fake camera to: the player plays it by URL or id, shows its distance to the live
 * edge and its variants, waits for a channel that is not live; the admin page lists, creates (showing the server's
 * validation message) and deletes channels, and asks for the token again when it is refused. Screenshots go to
 * test-results/screenshots.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { callApi, createChannel, listChannelIds, testToken } from '../helpers/server.ts';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { screenshots } from './harness/screenshots.ts';

const skip = e2eSkipReason();

const variants = [
  { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 64_000 } },
  { video: { width: 320, height: 240, fps: 15, bps: 300_000 }, audio: { bps: 32_000 } },
];

interface Described {
  state: string;
  hls: { video: { width: number; height: number; codec: string }; audio: { bps: number } }[];
  traffic?: unknown;
}

/** Polls `read` every 200 ms until `done` holds on its value; fails naming `what` with the last value. */
async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(200);
    value = await read();
  }
  return value;
}

const videoTime = (page: Page): Promise<number> =>
  page.evaluate<number>(`document.getElementById('video').currentTime`);
const text = async (page: Page, selector: string): Promise<string> =>
  ((await page.locator(selector).first().textContent()) ?? '').trim();
const shortId = (id: string): string => `${id.slice(0, 12)}…`;

describe('the watch and admin pages', { skip, timeout: 120_000 }, () => {
  const env = useE2eEnvironment();
  const pages: Page[] = [];
  let channelId = '';
  let playlistUrl = '';
  let publisherClientId = '';
  /** The player opened by typing the id, used again by the outage test. */
  let typedPlayer: { page: Page; errors: string[] } | undefined;

  /** A page of the server, with the API token kept (as the token form would) unless `token` is null. */
  const open = async (path: string, token: string | null = testToken) => {
    const page = await env.browser.newPage();
    pages.push(page);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    if (token !== null) {
      await page.addInitScript({
        content: `localStorage.setItem('nagare.apiToken', ${JSON.stringify(token)})`,
      });
    }
    await page.goto(`${env.server.url}${path}`);
    return { page, errors };
  };

  const describeChannel = async (id: string): Promise<Described> => {
    const answer = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', { channel_id: id });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    return answer.json as Described;
  };

  before(async () => {
    ({ channelId, playlistUrl } = await env.newChannelWithPlaylist(variants));
    const publisher = await env.client();
    const result = await publisher.connect({ signalingUrl: env.signalingUrl(), channelId, role: 'sendonly' });
    assert.ok('connectionId' in result, JSON.stringify(result));
    const connections = await callApi(env.server.url, 'Sora_20201013.ListChannelConnections', {
      channel_id: channelId,
    });
    publisherClientId = (connections.json as { client_id: string }[])[0]?.client_id ?? '';
    assert.notEqual(publisherClientId, '', JSON.stringify(connections.json));
  });

  after(async () => {
    for (const page of pages) await page.close().catch(() => undefined);
  });

  test('watch plays a live channel from ?src=: time advances, live-edge distance in seconds, its variants listed, Go live catches up', async () => {
    const { page, errors } = await open(`/watch?src=${encodeURIComponent(playlistUrl)}`);
    assert.equal(await page.locator('#src').inputValue(), playlistUrl, '?src= fills the form');
    const begin = await until(
      'video starts',
      () => videoTime(page),
      (time) => time > 0.1,
      30_000,
    );
    const later = await until(
      'video plays 3 s',
      () => videoTime(page),
      (time) => time >= begin + 3,
      15_000,
    );
    assert.ok(later >= begin + 3);
    assert.equal(await text(page, '#player-state'), 'Playing');

    const latency = await until(
      'the distance to the live edge',
      () => text(page, '#latency'),
      (shown) => /^\d+\.\d s$/.test(shown),
    );
    const seconds = Number.parseFloat(latency);
    assert.ok(seconds > 0 && seconds < 15, `behind the live edge: ${latency}`);

    const options = await page.locator('#quality option').allTextContents();
    assert.equal(options[0], 'Auto');
    assert.deepEqual(
      options
        .slice(1)
        .map((option) => /^\d+×\d+/.exec(option)?.[0])
        .sort(),
      ['320×240', '640×480'],
    );
    assert.match(await text(page, '#variant'), /^\d+×\d+ \d+ fps, .*(kbps|Mbps) \(auto\)$/);

    // A manual choice is played (and no longer marked auto).
    const small = options.findIndex((option) => option.startsWith('320×240'));
    await page.getByLabel('Quality').selectOption(String(small - 1));
    await until(
      'the chosen variant plays',
      () => text(page, '#variant'),
      (shown) => /^320×240 15 fps/.test(shown),
    );
    assert.doesNotMatch(await text(page, '#variant'), /auto/);

    // Paused, it falls behind; "Go live" brings it back near the edge.
    await page.evaluate(`document.getElementById('video').pause()`);
    await sleep(3000);
    const behind = Number.parseFloat(await text(page, '#latency'));
    assert.ok(behind >= seconds + 2, `paused 3 s: ${behind} s behind (was ${seconds})`);
    await page.getByRole('button', { name: 'Go live' }).click();
    await until(
      'back near the live edge after Go live',
      async () => Number.parseFloat(await text(page, '#latency')),
      // Most of the 3 s the pause lost is made up at once (where hls.js lands depends on the part it reads then).
      (shown) => shown <= behind - 1.5,
    );
    assert.equal(await page.evaluate<boolean>(`document.getElementById('video').paused`), false);
    assert.equal(await text(page, '#unmute'), 'Unmute', 'starts muted');
    await page.getByRole('button', { name: 'Unmute' }).click();
    assert.equal(await page.evaluate<boolean>(`document.getElementById('video').muted`), false);
    assert.equal(await text(page, '#unmute'), 'Mute');
    assert.deepEqual(errors, []);
    await screenshots(page, 'watch');
  });

  test('watch plays a channel by its bare id typed into the form', async () => {
    const id = /\/hls\/([0-9a-f]{32})\/index\.m3u8$/.exec(playlistUrl)?.[1];
    assert.ok(id !== undefined, playlistUrl);
    const { page, errors } = await open('/watch');
    await page.getByLabel('Playlist URL or id').fill(id);
    await page.keyboard.press('Enter');
    const begin = await until(
      'video starts',
      () => videoTime(page),
      (time) => time > 0.1,
      30_000,
    );
    await until(
      'video plays 2 s',
      () => videoTime(page),
      (time) => time >= begin + 2,
      15_000,
    );
    assert.equal(new URL(page.url()).searchParams.get('src'), id, 'the page URL can be shared');
    assert.equal(await page.locator('#quality option').count(), 3);
    assert.deepEqual(errors, []);
    typedPlayer = { page, errors };
  });

  test('watch recovers by itself from a network outage: says it reconnects, then plays on', async () => {
    // The player of the previous test, playing already.
    assert.ok(typedPlayer !== undefined, 'the previous test opened the player');
    const { page, errors } = typedPlayer;
    const begin = await videoTime(page);
    const states = new Set<string>();
    const outage = async (route: { abort(): Promise<void> }): Promise<void> => {
      await route.abort();
    };
    await page.route('**/hls/**', outage);
    const outageEnds = Date.now() + 5000;
    while (Date.now() < outageEnds) {
      states.add(await text(page, '#player-state'));
      await sleep(100);
    }
    await page.unroute('**/hls/**', outage);
    assert.ok(states.has('Reconnecting…'), [...states].join());
    const resumed = await videoTime(page);
    await until(
      'plays on after the outage',
      () => videoTime(page),
      (time) => time >= resumed + 2,
      20_000,
    );
    assert.equal(await text(page, '#player-state'), 'Playing');
    assert.ok((await videoTime(page)) > begin);
    assert.deepEqual(errors, []);
  });

  test('watch of an unknown playlist waits for the broadcast, asks again and again, and does not fail', async () => {
    const id = randomBytes(16).toString('hex');
    const { page, errors } = await open('/watch');
    const asked: string[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith(`/hls/${id}/index.m3u8`)) asked.push(String(response.status()));
    });
    await page.goto(`${env.server.url}/watch?src=${id}`);
    await until(
      'waiting shown',
      () => text(page, '#player-state'),
      (shown) => shown === 'Waiting for the broadcast',
    );
    assert.match(await text(page, '#status'), /Waiting for the broadcast/);
    await until(
      'the playlist asked for again',
      () => Promise.resolve(asked.length),
      (count) => count >= 3,
      10_000,
    );
    assert.ok(
      asked.every((status) => status === '404'),
      asked.join(),
    );
    assert.equal(await text(page, '#player-state'), 'Waiting for the broadcast');
    assert.deepEqual(errors, []);
  });

  test('watch of a channel not live yet starts playing by itself once a broadcaster publishes', async () => {
    const { channelId: laterId, playlistUrl: laterUrl } = await env.newChannelWithPlaylist([variants[1]]);
    const { page, errors } = await open(`/watch?src=${encodeURIComponent(laterUrl)}`);
    await until(
      'waiting shown',
      () => text(page, '#player-state'),
      (shown) => shown === 'Waiting for the broadcast',
    );
    const publisher = await env.client();
    const result = await publisher.connect({
      signalingUrl: env.signalingUrl(),
      channelId: laterId,
      role: 'sendonly',
    });
    assert.ok('connectionId' in result, JSON.stringify(result));
    try {
      const begin = await until(
        'video starts',
        () => videoTime(page),
        (time) => time > 0.1,
        30_000,
      );
      await until(
        'video plays 1 s',
        () => videoTime(page),
        (time) => time >= begin + 1,
        10_000,
      );
      assert.equal(await text(page, '#player-state'), 'Playing');
      assert.deepEqual(errors, []);
    } finally {
      await publisher.disconnect();
    }
  });

  test('admin lists the live channel: state, publisher, variants, links, refreshed every 2 s', async () => {
    const { page, errors } = await open('/admin');
    const row = page.locator(`tr[data-channel-id="${channelId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator('.badge').textContent(), 'live');
    assert.match(
      (await row.locator('td[data-label="Publishers"]').textContent()) ?? '',
      new RegExp(publisherClientId.slice(0, 12)),
    );
    const shownVariants = (await row.locator('td[data-label="Variants"]').textContent()) ?? '';
    assert.match(shownVariants, /640×480 30 fps, 1\.00 Mbps h264_high, audio 64 kbps/);
    assert.match(shownVariants, /320×240 15 fps, 300 kbps h264_high, audio 32 kbps/);

    const watch = new URL(
      (await row.getByRole('link', { name: `Watch ${shortId(channelId)}` }).getAttribute('href')) ?? '',
      env.server.url,
    );
    assert.equal(watch.pathname, '/watch');
    assert.equal(watch.searchParams.get('src'), playlistUrl);
    const broadcast = new URL(
      (await row.getByRole('link', { name: `Broadcast to ${shortId(channelId)}` }).getAttribute('href')) ??
        '',
      env.server.url,
    );
    assert.equal(broadcast.pathname, '/broadcast');
    assert.equal(broadcast.searchParams.get('channel_id'), channelId);
    assert.equal(broadcast.searchParams.get('sora_url'), env.signalingUrl());

    // Traffic: viewers as the server counts them, the bit rate in from the ingest counter's growth between two
    // refreshes (the publisher sends, so it is not zero), the live edge in seconds.
    assert.ok((await describeChannel(channelId)).traffic !== undefined, 'DescribeChannel reports traffic');
    const cellOf = (name: string) => text(page, `tr[data-channel-id="${channelId}"] .${name}`);
    const rateIn = await until(
      'bit rate in',
      () => cellOf('bitrate-in'),
      (shown) => /bps$/.test(shown),
      6000,
    );
    assert.notEqual(rateIn, '0 kbps');
    assert.match(await cellOf('bitrate-out'), /bps$/);
    assert.match(await cellOf('viewers'), /^\d+$/);
    assert.match(await cellOf('live-edge'), /^\d+\.\d s$/);

    // Refreshed in place: a focused button keeps its focus (a keyboard user is not thrown back to the top).
    const deleteLabel = `Delete ${shortId(channelId)}`;
    await row.getByRole('button', { name: deleteLabel }).focus();
    const first = await text(page, '#updated');
    await until(
      'the list refreshed',
      () => text(page, '#updated'),
      (shown) => shown !== first,
      5000,
    );
    assert.equal(
      await page.evaluate<string | null>(`document.activeElement?.getAttribute('aria-label') ?? null`),
      deleteLabel,
    );
    assert.deepEqual(errors, []);
    await screenshots(page, 'admin');
  });

  test('admin creates a channel from the form, showing the server’s message for a bad value', async () => {
    const { page, errors } = await open('/admin');
    await page.locator('#channels').waitFor();
    const before = await listChannelIds(env.server.url);

    await page.getByRole('button', { name: 'Add a variant' }).click();
    await page.getByRole('button', { name: 'Add a variant' }).click();
    assert.equal(await page.locator('fieldset.variant').count(), 3);
    await page.getByRole('button', { name: 'Remove variant 3' }).click();
    assert.equal(await page.locator('fieldset.variant').count(), 2);

    await page.locator('#v0-width').fill('641');
    await page.getByRole('button', { name: 'Create channel' }).click();
    const expected = await callApi(env.server.url, 'ImageFlux_20180905.CreateChannel', {
      hls: [{ video: { width: 641, height: 720, fps: 30, bps: 2_500_000 }, audio: { bps: 128_000 } }],
    });
    assert.equal(expected.status, 400);
    const message = (expected.json as { error: { message: string } }).error.message;
    assert.match(message, /hls\[0\]\.video\.width/);
    await until(
      'the 400 message beside the form',
      () => text(page, '#create-error'),
      (shown) => shown.includes(message),
    );
    assert.equal(await page.locator('#v0-width').getAttribute('aria-invalid'), 'true');
    await screenshots(page, 'admin-invalid');
    assert.deepEqual(await listChannelIds(env.server.url), before, 'nothing created');

    await page.locator('#v0-width').fill('640');
    await page.locator('#v0-height').fill('360');
    await page.getByLabel('H.264 profile').nth(1).selectOption('h264_baseline');
    await page.getByLabel('Segment duration (seconds, 1 to 10)').fill('3');
    await page.getByRole('button', { name: 'Create channel' }).click();
    await until(
      'created',
      () => text(page, '#status'),
      (shown) => shown.startsWith('Created channel'),
    );
    assert.equal(await text(page, '#create-error'), '');

    const after = await listChannelIds(env.server.url);
    const added = after.filter((id) => !before.includes(id));
    assert.equal(added.length, 1, JSON.stringify({ before, after }));
    const created = await describeChannel(added[0]!);
    assert.deepEqual(
      created.hls.map((variant) => [
        variant.video.width,
        variant.video.height,
        variant.video.codec,
        variant.audio.bps,
      ]),
      [
        [640, 360, 'h264_high', 128_000],
        [640, 360, 'h264_baseline', 64_000],
      ],
    );
    assert.deepEqual(
      created.hls.map((variant) => (variant as { durationSeconds?: number }).durationSeconds),
      [3, 3],
    );
    await page.locator(`tr[data-channel-id="${added[0]}"]`).waitFor({ timeout: 5000 });
    assert.deepEqual(errors, []);
  });

  test('admin deletes a channel only after it is confirmed', async () => {
    const doomed = await createChannel(env.server.url);
    const { page, errors } = await open('/admin');
    const row = page.locator(`tr[data-channel-id="${doomed}"]`);
    await row.waitFor({ timeout: 10_000 });

    await row.getByRole('button', { name: `Delete ${shortId(doomed)}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this channel?' });
    await dialog.waitFor();
    await screenshots(page, 'admin-delete');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await sleep(500);
    assert.equal((await describeChannel(doomed)).state, 'idle', 'cancel keeps it');

    await row.getByRole('button', { name: `Delete ${shortId(doomed)}` }).click();
    await dialog.getByRole('button', { name: 'Delete channel' }).click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    assert.equal((await describeChannel(doomed)).state, 'deleted');
    assert.match(await text(page, '#status'), /^Deleted channel/);
    assert.ok(!(await listChannelIds(env.server.url)).includes(doomed));
    assert.deepEqual(errors, []);
  });

  test('admin with a wrong token shows the token form with the message, and works once the right one is given', async () => {
    const { page, errors } = await open('/admin', 'not-the-token');
    const tokenInput = page.getByLabel('API token');
    await tokenInput.waitFor({ state: 'visible', timeout: 10_000 });
    // The form can show before the refusal's message is written: wait for the message itself.
    await page.locator('#status', { hasText: 'The API token was not accepted' }).waitFor({ timeout: 10_000 });
    assert.match(await text(page, '#status'), /The API token was not accepted/);
    assert.equal(await page.locator('#channels').isVisible(), false);
    await screenshots(page, 'admin-token');
    await tokenInput.fill(testToken);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.locator(`tr[data-channel-id="${channelId}"]`).waitFor({ timeout: 10_000 });
    assert.equal(await tokenInput.isVisible(), false);
    assert.equal(await text(page, '#status'), '');
    assert.deepEqual(errors, []);
  });
});
