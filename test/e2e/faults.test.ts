/**
 * Faults a live stream must survive, injected while hls.js plays the channel: the direct encoder of its one
 * publisher killed with SIGKILL (the mixer takes over), then the publisher's decoder killed (restarted), a
 * publisher whose media stops for 10 s while its connection stays up, and a publisher that leaves and comes back
 * 10 s later. The playlist never ends or breaks (no EXT-X-ENDLIST, segments keep coming), the placeholder (media
 * stopped) or the slate (nobody connected) shows meanwhile, and the publisher's picture comes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import type { SoraClientPage } from './harness/sora-page.ts';
import { eventually } from '../helpers/eventually.ts';
import { callApi } from '../helpers/server.ts';
import {
  isColour,
  lastPicture,
  mediaPlaylistUrl,
  monoSamples,
  newestSegment,
  segmentAfter,
  tonePower,
  type FetchedSegment,
} from '../helpers/hls-media.ts';

const skip = e2eSkipReason();
const variant = { video: { width: 320, height: 240, fps: 15, bps: 300_000 }, audio: { bps: 48_000 } };
const red = { color: '#ff0000', toneHz: 440 };

interface PlayerState {
  currentTime: number;
  fatal: string | null;
  errors: string[];
}

describe('faults survived while hls.js plays', { skip, timeout: 240_000 }, () => {
  const env = useE2eEnvironment({ partSeconds: 0.5 });
  let channelId = '';
  let playlistUrl = '';
  let mediaUrl: URL;
  let publisher: SoraClientPage;
  let viewer: Page;

  const player = async (): Promise<PlayerState> => await viewer.evaluate<PlayerState>('window.playerState()');
  /** hls.js advances `seconds` more from now, with no fatal error. */
  const playsOn = async (seconds: number, what: string): Promise<void> => {
    const from = (await player()).currentTime;
    const state = await eventually(`${what}: playback ${seconds} s on`, 40_000, async () => {
      const now = await player();
      assert.equal(now.fatal, null, now.errors.join('; '));
      return now.currentTime >= from + seconds ? now : undefined;
    });
    assert.equal(state.fatal, null);
  };
  /** The newest segment after `msn` that passes `check`; on a timeout the error carries the channel's figures. */
  const segmentOrFigures = async (
    msn: number,
    what: string,
    check: (s: FetchedSegment) => Promise<boolean>,
  ) => {
    try {
      return await segmentAfter(mediaUrl, msn, what, check, 45_000);
    } catch (err) {
      const described = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', {
        channel_id: channelId,
      });
      throw new Error(`${(err as Error).message}\nchannel: ${JSON.stringify(described.json)}`, {
        cause: err,
      });
    }
  };
  /** Red: the publisher. Grey: the slate (black) or the publisher's placeholder (dark grey with a lighter figure). */
  const shows = (colour: 'red' | 'grey') => async (segment: FetchedSegment) => {
    const picture = await lastPicture(segment, 32, 24);
    const centre = picture.at(16, 12);
    if (colour === 'red') return isColour(centre, 'red');
    return Math.max(...centre) - Math.min(...centre) < 20 && Math.max(...centre) < 140;
  };
  const notEnded = async (): Promise<void> => {
    const text = await (await fetch(mediaUrl)).text();
    assert.ok(!text.includes('#EXT-X-ENDLIST'), `the playlist ended:\n${text}`);
  };

  before(async () => {
    ({ channelId, playlistUrl } = await env.newChannelWithPlaylist([variant]));
    publisher = await env.client();
    const result = await publisher.connect({
      signalingUrl: env.signalingUrl(),
      channelId,
      role: 'sendonly',
      source: red,
    });
    assert.ok('connectionId' in result, JSON.stringify(result));
    mediaUrl = await eventually('the playlist', 30_000, () => mediaPlaylistUrl(playlistUrl));
    viewer = await env.browser.newPage();
    await viewer.goto(`${env.pages.url}/hls-player.html`);
    await viewer.evaluate(`window.playHls(${JSON.stringify(playlistUrl)}, true)`);
    await playsOn(2, 'start');
  });

  after(async () => {
    await viewer.close().catch(() => undefined);
  });

  test('the direct encoder killed: the mixer takes over; then its decoder killed: restarted; playback goes on', async () => {
    const pipeline = env.server.server.media.pipeline(channelId);
    const composite = pipeline?.composite;
    assert.ok(pipeline !== undefined && composite !== undefined);
    assert.equal(composite.direct, true, 'encoded directly');
    assert.deepEqual(pipeline.decoderPids(), [], 'no decoder while encoded directly');
    const directPid = composite.encoderPid;
    assert.ok(directPid !== undefined);
    const before = await newestSegment(mediaUrl);
    process.kill(directPid, 'SIGKILL');
    // The mixer takes over with a decoder for the publisher (and goes direct again 10 s later: kill the decoder
    // before that).
    const decoderPid = await eventually('a decoder', 5000, () => Promise.resolve(pipeline.decoderPids()[0]));
    assert.equal(composite.direct, false);
    process.kill(decoderPid, 'SIGKILL');
    const restarted = await eventually('the decoder restarted', 5000, () => {
      const [pid] = pipeline.decoderPids();
      return Promise.resolve(pid !== undefined && pid !== decoderPid ? pid : undefined);
    });
    assert.notEqual(restarted, decoderPid, 'a new decoder process');
    const publishers = Object.values(
      (pipeline.stats() as { publishers: Record<string, { decoder?: { restarts: number } }> }).publishers,
    );
    assert.deepEqual(
      publishers.map((p) => p.decoder?.restarts),
      [1],
    );
    await playsOn(6, 'after the direct encoder and then the decoder were killed');
    await segmentOrFigures(before.msn, 'red again after the restarts', shows('red'));
    await notEnded();
  });

  test("a publisher's media stops for 10 s with its connection up: its placeholder meanwhile, then its picture", async () => {
    const before = await newestSegment(mediaUrl);
    assert.ok((await publisher.pauseSending(true)) >= 2, 'audio and video senders paused');
    await segmentOrFigures(before.msn, 'the placeholder while nothing comes', shows('grey'));
    await sleep(10_000 - 4000);
    const paused = await newestSegment(mediaUrl);
    await publisher.pauseSending(false);
    const back = await segmentOrFigures(paused.msn, 'red once media flows again', shows('red'));
    // Its sound is back too, on time (Chromium's audio RTP clock stands still while paused; video's does not).
    const next = await segmentOrFigures(back.msn, 'the segment after it', () => Promise.resolve(true));
    const samples = await monoSamples(next);
    assert.ok(
      tonePower(samples, red.toneHz) > 100 * tonePower(samples, 700),
      'the 440 Hz tone is heard again',
    );
    await playsOn(4, 'across the outage');
    await notEnded();
  });

  test('a publisher that leaves and comes back 10 s later: the same playlist goes on', async () => {
    const before = await newestSegment(mediaUrl);
    await publisher.disconnect();
    await segmentOrFigures(before.msn, 'the slate with nobody publishing', shows('grey'));
    await sleep(10_000 - 4000);
    const gone = await newestSegment(mediaUrl);
    const back = await publisher.connect({
      signalingUrl: env.signalingUrl(),
      channelId,
      role: 'sendonly',
      source: red,
    });
    assert.ok('connectionId' in back, JSON.stringify(back));
    await segmentOrFigures(gone.msn, 'red after the reconnect', shows('red'));
    await playsOn(4, 'after the reconnect');
    await notEnded();
    const described = await callApi(env.server.url, 'Nagare_20261124.DescribeChannel', {
      channel_id: channelId,
    });
    const media = described.json as { state: string; media: { encoder: { restarts: number } } };
    assert.equal(media.state, 'live');
    assert.equal(media.media.encoder.restarts, 0, 'the encoder never stopped');
  });
});
