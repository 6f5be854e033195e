/**
 * WebRTC in, HLS out, as users run it: sora-js-sdk publishes from Chromium to a channel with two variants, hls.js
 * in Chromium plays its playlist_url, ffprobe sees exactly the sizes asked for, and killing the encoder does not
 * stop playback for long: the direct encoder of the one publisher (the mixer takes over), then the mixer's encoder
 * (restarted). The server serves HLS on a port of its own (`--hls-port`), from its worker threads: the
 * playlist_url points there, so everything here is played from the workers' copies (the other browser tests play
 * from the main port).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { callApi, scrapeMetrics } from '../helpers/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { probeStream, run } from '../helpers/ffmpeg.ts';

const skip = e2eSkipReason();

interface PlayerState {
  currentTime: number;
  fatal: string | null;
  errors: string[];
  levels: { width: number; height: number }[];
  videoWidth: number;
}

const variants = [
  { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 64_000 } },
  {
    video: { width: 320, height: 240, fps: 15, bps: 300_000, codec: 'h264_baseline' },
    audio: { bps: 32_000 },
  },
];

describe('WebRTC to HLS: sora-js-sdk publisher, hls.js viewer', { skip, timeout: 180_000 }, () => {
  const env = useE2eEnvironment({ partSeconds: 0.5, hlsPort: 0, hlsWorkers: 2 });
  let viewer: Page | undefined;
  let playlistUrl = '';

  before(async () => {
    const created = await env.newChannelWithPlaylist(variants);
    playlistUrl = created.playlistUrl;
    assert.equal(
      new URL(playlistUrl).port,
      String(env.server.server.hlsPort),
      'the playlist is on the HLS port',
    );
    const channelId = created.channelId;
    const publisher = await env.client();
    const result = await publisher.connect({ signalingUrl: env.signalingUrl(), channelId, role: 'sendonly' });
    assert.ok('connectionId' in result, JSON.stringify(result));
  });

  after(async () => {
    await viewer?.close().catch(() => undefined);
  });

  const state = async (): Promise<PlayerState> => {
    assert.ok(viewer !== undefined);
    return await viewer.evaluate<PlayerState>('window.playerState()');
  };

  const waitForTime = async (target: number, timeoutMs: number): Promise<PlayerState> => {
    const deadline = Date.now() + timeoutMs;
    let last = await state();
    while (last.currentTime < target && Date.now() < deadline && last.fatal === null) {
      await sleep(250);
      last = await state();
    }
    return last;
  };

  test('hls.js plays the playlist: currentTime advances 5 s, no fatal error, both variants listed', async () => {
    viewer = await env.browser.newPage();
    await viewer.goto(`${env.pages.url}/hls-player.html`);
    await viewer.evaluate(`window.playHls(${JSON.stringify(playlistUrl)}, true)`);
    const started = await waitForTime(0.1, 30_000);
    assert.equal(started.fatal, null, started.errors.join('; '));
    const begin = started.currentTime;
    const later = await waitForTime(begin + 5, 20_000);
    assert.equal(later.fatal, null, later.errors.join('; '));
    assert.ok(
      later.currentTime >= begin + 5,
      `currentTime ${begin} → ${later.currentTime}; ${later.errors.join('; ')}`,
    );
    assert.deepEqual(later.levels.map((l) => `${l.width}x${l.height}`).sort(), ['320x240', '640x480']);
  });

  test('a segment of each variant has exactly the width and height asked for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nagare-hls-'));
    try {
      const multivariant = await (await fetch(playlistUrl)).text();
      const uris = multivariant.split('\n').filter((line) => line.endsWith('.m3u8'));
      assert.equal(uris.length, 2, multivariant);
      for (const [index, uri] of uris.entries()) {
        const mediaUrl = new URL(uri, playlistUrl);
        const media = await (await fetch(mediaUrl)).text();
        const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(media)?.[1];
        const segment = media.split('\n').find((line) => /^\d+\.m4s$/.test(line));
        assert.ok(map !== undefined && segment !== undefined, media);
        const init = Buffer.from(await (await fetch(new URL(map, mediaUrl))).arrayBuffer());
        const body = Buffer.from(await (await fetch(new URL(segment, mediaUrl))).arrayBuffer());
        const path = join(dir, `v${index}.mp4`);
        await writeFile(path, Buffer.concat([init, body]));
        const expected = variants[index]!.video;
        assert.equal(
          await probeStream(path, 'codec_name,width,height', 'v'),
          `h264,${expected.width},${expected.height}`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the MPEG-TS twin (ts.m3u8) plays in ffmpeg, as an old player would read it', async () => {
    const tsUrl = playlistUrl.replace(/index\.m3u8$/, 'ts.m3u8');
    const { stdout, stderr } = await run('ffmpeg', [
      ...['-v', 'error', '-i', tsUrl, '-map', '0:p:0:v', '-map', '0:p:0:a', '-t', '4'],
      ...['-f', 'framecrc', '-'],
    ]);
    assert.equal(stderr.trim(), '', 'decoded without an error');
    const videoFrames = stdout.split('\n').filter((line) => line.startsWith('0,')).length;
    const audioFrames = stdout.split('\n').filter((line) => line.startsWith('1,')).length;
    assert.ok(videoFrames >= 100, `${videoFrames} pictures in 4 s`);
    assert.ok(audioFrames >= 150, `${audioFrames} audio frames in 4 s`);
  });

  test('DescribeChannel shows the channel live, its connection, and the media pipeline at work', async () => {
    const server = env.server;
    const channelId = server.server.media.outputForPlaylist(
      new URL(playlistUrl).pathname.split('/')[2] ?? '',
    )?.channelId;
    assert.ok(channelId !== undefined);
    const described = await callApi(server.url, 'Nagare_20261124.DescribeChannel', { channel_id: channelId });
    const record = described.json as {
      state: string;
      connections: number;
      media?: { path: string; encoder: { restarts: number }; packagers: { parts: number }[] };
      traffic: { ingest_bytes: number; hls_bytes: number; viewers: number; live_edge_ms: number | null };
    };
    assert.equal(record.state, 'live');
    // The hls.js page of the first test is still playing; the earlier tests' fetch and ffmpeg read within the last
    // ten seconds too, and each is a viewer (address + user agent): one to three. Bytes served; media came in.
    assert.ok(record.traffic.viewers >= 1 && record.traffic.viewers <= 3, JSON.stringify(record.traffic));
    assert.ok(record.traffic.hls_bytes > 100_000, JSON.stringify(record.traffic));
    assert.ok(record.traffic.ingest_bytes > 100_000, JSON.stringify(record.traffic));
    const edge = record.traffic.live_edge_ms;
    assert.ok(edge !== null && edge >= 0 && edge < 5000, `live edge ${edge} ms behind`);
    assert.equal(record.connections, 1);
    assert.equal(record.media?.encoder.restarts, 0);
    // One publisher: encoded directly.
    assert.equal(record.media.path, 'direct');
    assert.ok((record.media.packagers[0]?.parts ?? 0) > 4, JSON.stringify(record.media));
  });

  test('/metrics counts the live channel: its publisher, RTP received, HLS served, the live edge, the encoder speed', async () => {
    const values = await scrapeMetrics(env.server.url);
    const value = (sample: string): number => {
      const found = values.get(sample);
      assert.ok(found !== undefined, `${sample} in ${JSON.stringify([...values.keys()].slice(0, 50))}`);
      return found;
    };
    assert.equal(value('nagare_channels{state="live"}'), 1);
    assert.equal(value('nagare_connections{role="sendonly"}'), 1);
    assert.ok(value('nagare_rtp_packets_total{kind="video"}') > 100);
    assert.ok(value('nagare_rtp_packets_total{kind="audio"}') > 100);
    assert.ok(value('nagare_frames_total{kind="video"}') > 30);
    assert.ok(value('nagare_hls_requests_total{resource="part"}') > 3);
    assert.ok(value('nagare_hls_bytes_total') > 100_000);
    assert.equal(value('nagare_hls_playlists_encoding'), 1);
    assert.equal(value('nagare_encoding_pixels_per_second'), 640 * 480 * 30 + 320 * 240 * 15);
    const edge = value('nagare_hls_live_edge_seconds');
    assert.ok(edge >= 0 && edge < 5, `live edge ${edge} s`);
    const listing = value('nagare_hls_ingest_to_playlist_seconds');
    assert.ok(listing >= 0 && listing <= edge, `ingest to playlist ${listing} s, live edge ${edge} s`);
    assert.equal(value('nagare_ffmpeg_restarts_total{process="encoder"}'), 0);
    // Encoded directly, so nothing is mixed (the mixer's delay is looked at once it mixes, below).
    assert.equal(value('nagare_hls_playlists_direct'), 1);
    assert.equal(value('nagare_direct_encoder_starts_total'), 1);
    assert.equal(value('nagare_direct_encoder_fallbacks_total'), 0);
    const speed = value('nagare_encoder_speed');
    assert.ok(speed > 0.8 && speed < 1.2, `encoder speed ${speed}`);
  });

  test('the encoder killed with SIGKILL, direct then mixing: playback goes on within a few seconds', async () => {
    const server = env.server;
    assert.ok(viewer);
    const output = server.server.media.outputForPlaylist(new URL(playlistUrl).pathname.split('/')[2] ?? '');
    assert.ok(output !== undefined);
    const describe = async () =>
      (
        (await callApi(server.url, 'Nagare_20261124.DescribeChannel', { channel_id: output.channelId }))
          .json as {
          media: { path: string; direct: { endReason?: string }; encoder: { restarts: number } };
        }
      ).media;
    const playsOn = async (what: string) => {
      const before = (await state()).currentTime;
      const after = await waitForTime(before + 6, 25_000);
      assert.equal(after.fatal, null, `${what}: ${after.errors.join('; ')}`);
      assert.ok(
        after.currentTime >= before + 6,
        `${what}: currentTime ${before} → ${after.currentTime}; ${after.errors.join('; ')}`,
      );
    };
    // The direct encoder: the mixer takes over, the publisher decoded from then on (and direct again 10 s later:
    // the mixer's encoder is killed before that).
    const directPid = output.encoderPid;
    output.killEncoder();
    const mixerPid = await eventually('the mixer encoding', 5000, () =>
      Promise.resolve(output.direct || output.encoderPid === directPid ? undefined : output.encoderPid),
    );
    const mixing = await describe();
    assert.equal(mixing.path, 'mixer');
    assert.match(mixing.direct.endReason ?? '', /ffmpeg exited/);
    const metrics = await scrapeMetrics(server.url);
    assert.equal(metrics.get('nagare_direct_encoder_fallbacks_total'), 1);
    assert.equal(metrics.get('nagare_hls_playlists_direct'), 0);
    // The mixer's encoder: restarted.
    output.killEncoder();
    await eventually('the encoder restarted', 5000, async () =>
      (await describe()).encoder.restarts === 1 && output.encoderPid !== mixerPid ? true : undefined,
    );
    const mixerDelay = (await scrapeMetrics(server.url)).get('nagare_mixer_delay_seconds') ?? Number.NaN;
    // Within the defaults' bounds; how low it comes is measured by bench/glass-to-glass.ts.
    assert.ok(mixerDelay >= 0 && mixerDelay <= 0.2, `mixer delay ${mixerDelay} s`);
    await playsOn("after the direct encoder, then the mixer's encoder, were killed");
    // The killed encoder's writes in flight let go of their pictures once, like every other holder.
    assert.equal((await scrapeMetrics(server.url)).get('nagare_pictures_released_unheld_total'), 0);
  });
});
