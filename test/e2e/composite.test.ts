/**
 * Several broadcasters in one channel, as users run it: sora-js-sdk publishers in Chromium, each sending one
 * colour and one tone, see and hear each other over WebRTC; the channel's playlist shows them side by side and
 * holds both tones; when one leaves the picture is one full frame again without a break; with
 * CreateMultistreamChannelWithHLS each broadcaster gets its own playlist, listed by ListPlaylistURLs and announced
 * by the `notify.playlist_url` event webhook.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import type { SoraClientPage } from './harness/sora-page.ts';
import { callApi } from '../helpers/server.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  isColour,
  lastPicture,
  mediaPlaylistUrl,
  monoSamples,
  newestSegment,
  probeSegment,
  segmentAfter,
  tonePower,
} from '../helpers/hls-media.ts';

const skip = e2eSkipReason();

const variant = { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 96_000 } };
const red = { color: '#ff0000', toneHz: 440 };
const blue = { color: '#0000ff', toneHz: 1000 };
/** A frequency neither publisher sends: the noise floor. */
const offToneHz = 700;

async function connectPublisher(
  page: SoraClientPage,
  signalingUrl: string,
  channelId: string,
  role: 'sendrecv' | 'sendonly',
  source: { color: string; toneHz: number },
): Promise<string> {
  const result = await page.connect({ signalingUrl, channelId, role, source });
  assert.ok('connectionId' in result, JSON.stringify(result));
  return result.connectionId;
}

describe('several broadcasters: the composite playlist', { skip, timeout: 240_000 }, () => {
  const env = useE2eEnvironment({ partSeconds: 0.5 });
  let channelId = '';
  let playlistUrl = '';
  let mediaUrl: URL;
  let redPage: SoraClientPage;
  let bluePage: SoraClientPage;
  let redId = '';
  let blueId = '';
  let viewer: Page | undefined;

  before(async () => {
    ({ channelId, playlistUrl } = await env.newChannelWithPlaylist([variant]));
    redPage = await env.client();
    bluePage = await env.client();
    // Join order is layout order: red on the left.
    redId = await connectPublisher(redPage, env.signalingUrl(), channelId, 'sendrecv', red);
    blueId = await connectPublisher(bluePage, env.signalingUrl(), channelId, 'sendrecv', blue);
    mediaUrl = await eventually('the composite playlist', 30_000, () => mediaPlaylistUrl(playlistUrl));
  });

  after(async () => {
    await viewer?.close().catch(() => undefined);
  });

  test('each sendrecv publisher receives and decodes the other over WebRTC', async () => {
    for (const [page, otherId] of [
      [redPage, blueId],
      [bluePage, redId],
    ] as const) {
      await page.waitFor(
        (s) =>
          s.remoteStreamIds.includes(otherId) &&
          s.inbound.some((row) => row.kind === 'video' && (row.framesDecoded ?? 0) > 10) &&
          s.inbound.some((row) => row.kind === 'audio' && row.packetsReceived > 50),
        20_000,
        `the other publisher (${otherId}) decoded`,
      );
    }
  });

  test('a composite picture has red on the left and blue on the right; its sound holds both tones', async () => {
    const segment = await segmentAfter(mediaUrl, -1, 'a segment showing both publishers', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      return isColour(picture.at(40, 60), 'red') && isColour(picture.at(120, 60), 'blue');
    });
    const picture = await lastPicture(segment, 160, 120);
    // Grid of two: each 640x480 picture fits a 320x480 tile as 320x240, letterboxed above and below.
    assert.ok(isColour(picture.at(20, 45), 'red'), `left tile ${picture.at(20, 45).join(',')}`);
    assert.ok(isColour(picture.at(140, 75), 'blue'), `right tile ${picture.at(140, 75).join(',')}`);
    const letterbox = picture.at(80, 5);
    assert.ok(Math.max(...letterbox) < 40, `letterbox above the tiles is black: ${letterbox.join(',')}`);

    const samples = await monoSamples(segment);
    if (samples.length < 48_000) {
      // Seen once in a full suite on a loaded machine: say what the channel's mixer and encoder did.
      const described = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', {
        channel_id: channelId,
      });
      const media = (described.json as { media?: { mixer?: unknown; encoder?: unknown } }).media;
      const extinf = segment.playlist.split('\n').filter((line) => line.startsWith('#EXTINF'));
      assert.fail(
        `${samples.length} samples in segment ${segment.msn} (durations listed: ${extinf.join(' ')}); mixer ${JSON.stringify(media?.mixer)}, encoder ${JSON.stringify(media?.encoder)}`,
      );
    }
    const floor = tonePower(samples, offToneHz);
    const low = tonePower(samples, red.toneHz);
    const high = tonePower(samples, blue.toneHz);
    assert.ok(low > 100 * floor, `440 Hz ${low} against ${floor} at ${offToneHz} Hz`);
    assert.ok(high > 100 * floor, `1000 Hz ${high} against ${floor} at ${offToneHz} Hz`);
    const peak = samples.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    assert.ok(peak < 0.999, `the mix does not clip: peak ${peak}`);
  });

  test('when one leaves, the composite is one full frame again and playback goes on without a break', async () => {
    viewer = await env.browser.newPage();
    await viewer.goto(`${env.pages.url}/hls-player.html`);
    await viewer.evaluate(`window.playHls(${JSON.stringify(playlistUrl)}, true)`);
    const playerTime = async (): Promise<{ currentTime: number; fatal: string | null; errors: string[] }> =>
      await viewer!.evaluate('window.playerState()');
    const playing = await eventually('hls.js playing', 30_000, async () => {
      const state = await playerTime();
      assert.equal(state.fatal, null, state.errors.join('; '));
      return state.currentTime > 1 ? state : undefined;
    });

    const before = await newestSegment(mediaUrl);
    await bluePage.disconnect();
    const firstRed = await segmentAfter(mediaUrl, before.msn, 'a full-frame red segment', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      return [picture.at(20, 60), picture.at(80, 60), picture.at(140, 60), picture.at(80, 100)].every((rgb) =>
        isColour(rgb, 'red'),
      );
    });
    // The first full-frame segment may hold the moment of leaving; the next one is wholly after it.
    const segment = await segmentAfter(mediaUrl, firstRed.msn, 'the segment after it', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      return isColour(picture.at(20, 60), 'red') && isColour(picture.at(140, 60), 'red');
    });
    const samples = await monoSamples(segment);
    assert.ok(
      tonePower(samples, blue.toneHz) < tonePower(samples, red.toneHz) / 100,
      'the one who left is no longer heard',
    );

    const state = await eventually('playback past the leave', 30_000, async () => {
      const now = await playerTime();
      assert.equal(now.fatal, null, now.errors.join('; '));
      return now.currentTime >= playing.currentTime + 8 ? now : undefined;
    });
    assert.equal(state.fatal, null);
    const playlist = segment.playlist;
    assert.ok(!playlist.includes('#EXT-X-DISCONTINUITY'), `no discontinuity:\n${playlist}`);
    const msns = [...playlist.matchAll(/^(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
    msns.forEach((msn, index) => {
      if (index > 0) assert.equal(msn, (msns[index - 1] ?? 0) + 1, `segments follow on: ${msns.join(',')}`);
    });
    const described = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', {
      channel_id: channelId,
    });
    const media = (described.json as { media: { encoder: { restarts: number } } }).media;
    assert.equal(media.encoder.restarts, 0, 'the encoder never restarted');
  });

  test('UpdateLayout while live: a second publisher in pip is an inset over the first', async () => {
    const updated = await callApi(env.server.url, 'Nagare_20261124.UpdateLayout', {
      channel_id: channelId,
      layout: { type: 'pip' },
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.json));
    const greenPage = await env.client();
    await connectPublisher(greenPage, env.signalingUrl(), channelId, 'sendonly', {
      color: '#00ff00',
      toneHz: 1500,
    });
    const before = await newestSegment(mediaUrl);
    const segment = await segmentAfter(mediaUrl, before.msn, 'red with a green inset', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      // Inset: a quarter of each side at the bottom right, 15 px (of 480) from the edges: x 112-155, y 84-116.
      return isColour(picture.at(133, 100), 'green') && isColour(picture.at(40, 40), 'red');
    });
    const picture = await lastPicture(segment, 160, 120);
    assert.ok(isColour(picture.at(100, 100), 'red'), 'left of the inset is the full picture');
    assert.ok(isColour(picture.at(133, 75), 'red'), 'above the inset is the full picture');
    await greenPage.disconnect();
  });

  test('a publisher without video gets a placeholder tile, and is heard', async () => {
    const updated = await callApi(env.server.url, 'Nagare_20261124.UpdateLayout', {
      channel_id: channelId,
      layout: 'grid',
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.json));
    const voicePage = await env.client();
    const result = await voicePage.connect({
      signalingUrl: env.signalingUrl(),
      channelId,
      role: 'sendonly',
      source: { color: '#00ff00', toneHz: 1500 },
      options: { video: false },
    });
    assert.ok('connectionId' in result, JSON.stringify(result));
    const before = await newestSegment(mediaUrl);
    const grey = (rgb: readonly number[]): boolean =>
      Math.max(...rgb) - Math.min(...rgb) < 20 && Math.min(...rgb) > 20 && Math.max(...rgb) < 140;
    const segment = await segmentAfter(mediaUrl, before.msn, 'red beside a placeholder', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      return isColour(picture.at(40, 60), 'red') && grey(picture.at(120, 45)) && grey(picture.at(100, 80));
    });
    const next = await segmentAfter(mediaUrl, segment.msn, 'the segment after it', () =>
      Promise.resolve(true),
    );
    const samples = await monoSamples(next);
    assert.ok(
      tonePower(samples, 1500) > 100 * tonePower(samples, offToneHz),
      'the voice-only publisher is heard',
    );
    const picture = await lastPicture(next, 160, 120);
    assert.ok(!isColour(picture.at(120, 60), 'green'), 'no picture of the voice-only publisher');
    await voicePage.disconnect();
  });
});

describe('several broadcasters: a playlist per broadcaster', { skip, timeout: 180_000 }, () => {
  const env = useE2eEnvironment({ partSeconds: 0.5 });
  const events: Record<string, unknown>[] = [];
  let receiver: Server;
  let channelId = '';
  const connections = new Map<string, 'red' | 'blue'>();
  const pages = new Map<string, SoraClientPage>();

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        events.push({ path: req.url, ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as object) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const created = await callApi(env.server.url, 'ImageFlux_20200316.CreateMultistreamChannelWithHLS', {
      hls: [{ ...variant, video: { ...variant.video, width: 320, height: 240, bps: 400_000 } }],
      event_webhook_url: `http://127.0.0.1:${port}/events`,
      environment: 0,
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const body = created.json as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['channel_id', 'sora_url']);
    channelId = body['channel_id'] ?? '';
    for (const [name, source] of [
      ['red', red],
      ['blue', blue],
    ] as const) {
      const page = await env.client();
      const connectionId = await connectPublisher(page, env.signalingUrl(), channelId, 'sendonly', source);
      connections.set(connectionId, name);
      pages.set(connectionId, page);
    }
  });

  after(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  test('the webhook gets notify.playlist_url for each broadcaster; ListPlaylistURLs lists both', async () => {
    const playlistEvents = (): Record<string, unknown>[] =>
      events.filter((event) => event['type'] === 'notify.playlist_url');
    await eventually('two notify.playlist_url events', 30_000, () =>
      Promise.resolve(playlistEvents().length >= 2 ? true : undefined),
    );
    assert.equal(playlistEvents().length, 2, JSON.stringify(events));
    for (const event of playlistEvents()) {
      assert.equal(event['path'], '/events');
      assert.equal(event['type'], 'notify.playlist_url');
      assert.equal(event['channel_id'], channelId);
      assert.ok(connections.has(String(event['connection_id'])), JSON.stringify(event));
      assert.ok(!Number.isNaN(Date.parse(String(event['timestamp']))), JSON.stringify(event));
      assert.match(
        String(event['playlist_url']),
        /^http:\/\/127\.0\.0\.1:\d+\/hls\/[0-9a-f]{32}\/index\.m3u8$/,
      );
    }
    const listed = await callApi(env.server.url, 'ImageFlux_20200207.ListPlaylistURLs', {
      channel_id: channelId,
    });
    assert.equal(listed.status, 200);
    const { channel_id, hls } = listed.json as {
      channel_id: string;
      hls: { connection_id: string; playlist_url: string }[];
    };
    assert.equal(channel_id, channelId);
    assert.deepEqual(hls.map((entry) => entry.connection_id).sort(), [...connections.keys()].sort());
    for (const entry of hls) {
      const announced = playlistEvents().find((event) => event['connection_id'] === entry.connection_id);
      assert.equal(entry.playlist_url, announced?.['playlist_url']);
    }
  });

  test('the webhook gets Sora-shaped connection.created for each broadcaster', () => {
    const created = events.filter((event) => event['type'] === 'connection.created');
    assert.deepEqual(
      created.map((event) => event['connection_id']).sort(),
      [...connections.keys()].sort(),
      JSON.stringify(events),
    );
    for (const event of created) {
      assert.equal(event['channel_id'], channelId);
      assert.equal(event['role'], 'sendonly');
      assert.equal(event['multistream'], true);
      assert.match(String(event['id']), /^[0-9a-f]{32}$/);
      assert.ok(!Number.isNaN(Date.parse(String(event['timestamp']))));
      const data = event['data'] as Record<string, unknown>;
      assert.equal(data['audio'], true);
      assert.equal(data['video'], true);
      assert.ok(!Number.isNaN(Date.parse(String(data['created_timestamp']))));
    }
  });

  test("each broadcaster's playlist shows only that broadcaster's colour and tone", async () => {
    const listed = await callApi(env.server.url, 'ImageFlux_20200207.ListPlaylistURLs', {
      channel_id: channelId,
    });
    const { hls } = listed.json as { hls: { connection_id: string; playlist_url: string }[] };
    assert.equal(hls.length, 2);
    for (const entry of hls) {
      const colour = connections.get(entry.connection_id);
      assert.ok(colour !== undefined);
      const other = colour === 'red' ? 'blue' : 'red';
      const media = await mediaPlaylistUrl(entry.playlist_url);
      const segment = await segmentAfter(media, -1, `${colour} alone`, async (s) => {
        const picture = await lastPicture(s, 80, 60);
        return [picture.at(10, 30), picture.at(40, 30), picture.at(70, 30), picture.at(40, 50)].every((rgb) =>
          isColour(rgb, colour),
        );
      });
      assert.equal(await probeSegment(segment, 'width,height'), '320,240');
      const picture = await lastPicture(segment, 80, 60);
      for (let y = 8; y < 60; y += 8) {
        for (let x = 4; x < 80; x += 8) {
          assert.ok(!isColour(picture.at(x, y), other), `no ${other} at ${x},${y} of ${colour}'s playlist`);
        }
      }
      const samples = await monoSamples(segment);
      const own = tonePower(samples, colour === 'red' ? red.toneHz : blue.toneHz);
      const foreign = tonePower(samples, colour === 'red' ? blue.toneHz : red.toneHz);
      assert.ok(own > 100 * foreign, `${colour}: own tone ${own}, the other's ${foreign}`);
    }
  });

  test('a broadcaster who leaves: connection.destroyed, its playlist ends, ListPlaylistURLs lists the other', async () => {
    const listed = await callApi(env.server.url, 'ImageFlux_20200207.ListPlaylistURLs', {
      channel_id: channelId,
    });
    const { hls } = listed.json as { hls: { connection_id: string; playlist_url: string }[] };
    const [leaving, staying] = hls;
    assert.ok(leaving !== undefined && staying !== undefined);
    await pages.get(leaving.connection_id)?.disconnect();
    const destroyed = await eventually('connection.destroyed', 15_000, () =>
      Promise.resolve(
        events.find(
          (event) =>
            event['type'] === 'connection.destroyed' && event['connection_id'] === leaving.connection_id,
        ),
      ),
    );
    assert.ok(!Number.isNaN(Date.parse(String(destroyed['destroyed_timestamp']))), JSON.stringify(destroyed));
    const media = await mediaPlaylistUrl(leaving.playlist_url);
    const ended = await eventually('EXT-X-ENDLIST', 15_000, async () => {
      const text = await (await fetch(media)).text();
      return text.includes('#EXT-X-ENDLIST') ? text : undefined;
    });
    assert.ok(!ended.includes('#EXT-X-PRELOAD-HINT'), 'no hint for a part that will never come');
    const after = await callApi(env.server.url, 'ImageFlux_20200207.ListPlaylistURLs', {
      channel_id: channelId,
    });
    assert.deepEqual((after.json as { hls: unknown[] }).hls, [staying]);
  });

  test('with a layout too: the composite shows both, and each broadcaster is decoded once for all three playlists', async () => {
    const created = await callApi(env.server.url, 'ImageFlux_20200316.CreateMultistreamChannelWithHLS', {
      hls: [{ ...variant, video: { ...variant.video, width: 320, height: 240, bps: 400_000 } }],
      layout: 'grid',
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const { channel_id: both = '', playlist_url: composite = '' } = created.json as Record<string, string>;
    assert.notEqual(composite, '', 'a layout brings the composite playlist_url');
    for (const source of [red, blue]) {
      const page = await env.client();
      await connectPublisher(page, env.signalingUrl(), both, 'sendonly', source);
    }
    const media = await eventually('the composite playlist', 30_000, () => mediaPlaylistUrl(composite));
    await segmentAfter(media, -1, 'red and blue side by side', async (s) => {
      const picture = await lastPicture(s, 160, 120);
      return isColour(picture.at(40, 60), 'red') && isColour(picture.at(120, 60), 'blue');
    });
    const listed = await eventually('two own playlists', 30_000, async () => {
      const answer = await callApi(env.server.url, 'ImageFlux_20200207.ListPlaylistURLs', {
        channel_id: both,
      });
      const { hls } = answer.json as { hls: unknown[] };
      return hls.length === 2 ? hls : undefined;
    });
    assert.equal(listed.length, 2);
    const described = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', { channel_id: both });
    const publishers = (
      described.json as {
        media: { publishers: Record<string, { decoder: { starts: number }; playlist?: unknown }> };
      }
    ).media.publishers;
    const entries = Object.values(publishers);
    assert.equal(entries.length, 2, 'one decoder per broadcaster');
    for (const entry of entries) {
      assert.equal(entry.decoder.starts, 1, 'decoded once, from its first keyframe');
      assert.ok(entry.playlist !== undefined, 'and feeding its own playlist');
    }
    const decoders = env.server.server.media.pipeline(both)?.decoderPids() ?? [];
    assert.equal(new Set(decoders).size, 2, 'two decoder processes for three playlists');
  });
});
