/**
 * A broadcaster on a bad network: sora-js-sdk in Chromium publishes through a relay that loses 10 % of the media
 * packets each way and holds back another 10 % so later ones overtake them. The source flashes white with a beep
 * once a second; the channel's HLS keeps playing in hls.js, the flashes and beeps stay together in the segments
 * (A/V sync from RTCP survives the loss), and the server counts what it lost, asked again for and got back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { startImpairedNetwork, type ImpairedNetwork } from './harness/impaired-network.ts';
import type { SoraClientPage } from './harness/sora-page.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  avOffsets,
  flashOnsets,
  mediaPlaylistUrl,
  newestSegment,
  segmentsAfter,
  unwrapPhases,
} from '../helpers/hls-media.ts';
import { callApi, scrapeMetrics } from '../helpers/server.ts';

const skip = e2eSkipReason();
const variant = { video: { width: 320, height: 240, fps: 30, bps: 500_000 }, audio: { bps: 64_000 } };
const flashEveryMs = 1000;
const periodSeconds = flashEveryMs / 1000;
const beepPhaseToleranceSeconds = 0.01;
/** One Opus packet: a beep whose first packet is lost for good starts this much late. */
const lostPacketSeconds = 0.02;
/**
 * Viewers notice sound ahead of the picture past about 45 ms and behind it past about 125 ms (ITU-R BT.1359). With
 * no loss this source measures +21 ms; a frame at 30 fps is 33 ms.
 */
const medianOffsetRange = { earliest: -0.045, latest: 0.125 };

interface MixerFigures {
  audioSamplesDropped?: number;
  maxAudioDelayMs?: number;
}

async function mixerFigures(
  serverUrl: string,
  channel: string,
): Promise<MixerFigures & Record<string, unknown>> {
  const described = await callApi(serverUrl, 'Nagare_20261124.DescribeChannel', { channel_id: channel });
  return (
    (described.json as { media?: { mixer?: MixerFigures & Record<string, unknown> } }).media?.mixer ?? {}
  );
}

/**
 * The flash and beep onsets of the next four segments, with what the mixer did while they were made: `starved`
 * when it delayed the channel's sound or dropped some of it meanwhile (its decoder was late).
 */
async function syncWindow(serverUrl: string, channel: string, mediaUrl: URL) {
  const before = await mixerFigures(serverUrl, channel);
  const newest = await newestSegment(mediaUrl);
  const segments = await segmentsAfter(mediaUrl, newest.msn, 4, 30_000);
  const onsets = await flashOnsets(segments);
  const offsets = avOffsets(onsets);
  const after = await mixerFigures(serverUrl, channel);
  const mixer = JSON.stringify(after);
  const starved =
    (after.audioSamplesDropped ?? 0) > (before.audioSamplesDropped ?? 0) ||
    (after.maxAudioDelayMs ?? 0) > (before.maxAudioDelayMs ?? 0);
  const described =
    `onsets ${JSON.stringify(onsets)} → offsets (s) ${offsets.map((o) => o.toFixed(3)).join(' ')}; ` +
    `mixer ${mixer}${starved ? ' (starved: sound delayed or dropped meanwhile)' : ''}`;
  return { onsets, offsets, mixer, starved, described };
}

interface PlayerState {
  currentTime: number;
  fatal: string | null;
  errors: string[];
}

describe('a publisher behind 10 % loss and reordering', { skip, timeout: 180_000 }, () => {
  const env = useE2eEnvironment({ partSeconds: 0.5 });
  let network: ImpairedNetwork;
  let publisher: SoraClientPage;
  let viewer: Page;
  let mediaUrl: URL;
  let channel: string;

  before(async () => {
    network = await startImpairedNetwork(env.signalingUrl(), {
      lossRate: 0.1,
      reorderRate: 0.1,
      reorderDelayMs: 30,
      seed: 20261124,
    });
    const { channelId, playlistUrl } = await env.newChannelWithPlaylist([variant]);
    channel = channelId;
    publisher = await env.client();
    const connected = await publisher.connect({
      signalingUrl: network.signalingUrl,
      channelId,
      role: 'sendonly',
      source: { color: '#ff0000', toneHz: 880, flashEveryMs },
      options: { videoCodecType: 'H264' },
    });
    assert.ok('connectionId' in connected, JSON.stringify(connected));
    mediaUrl = await eventually('the media playlist', 30_000, async () => {
      try {
        return await mediaPlaylistUrl(playlistUrl);
      } catch {
        return undefined;
      }
    });
    viewer = await env.browser.newPage();
    await viewer.goto(`${env.pages.url}/hls-player.html`);
    await viewer.evaluate((url) => {
      (globalThis as unknown as { playHls(u: string, lowLatency: boolean): void }).playHls(url, true);
    }, playlistUrl);
  });

  after(async () => {
    await viewer.close();
    await network.close();
  });

  test('hls.js plays 20 s without a fatal error', async () => {
    const player = async () =>
      await viewer.evaluate<PlayerState>('window.playerState()' as unknown as () => PlayerState);
    const start = await eventually('playback starts', 40_000, async () => {
      const state = await player();
      return state.currentTime > 1 ? state : undefined;
    });
    await sleep(20_000);
    const end = await player();
    assert.equal(end.fatal, null, end.errors.join('; '));
    assert.ok(
      end.currentTime - start.currentTime >= 18,
      `played ${end.currentTime - start.currentTime} s in 20 s`,
    );
  });

  test('the media went through the relay, and it lost and reordered packets', () => {
    const counts = network.counts();
    assert.ok(counts.candidatesRewritten >= 1, JSON.stringify(counts));
    assert.ok(counts.browserCandidatesWithheld >= 1, JSON.stringify(counts));
    assert.ok(counts.upstream.packets > 100, JSON.stringify(counts));
    assert.ok(counts.upstream.dropped > counts.upstream.packets * 0.05, JSON.stringify(counts));
    assert.ok(counts.upstream.reordered > counts.upstream.packets * 0.05, JSON.stringify(counts));
  });

  test('the flashes and beeps stay together: median A/V offset within what viewers notice', async (t) => {
    // What the mixer did meanwhile: a decoder late on a starved machine (here, the host taking up to a quarter of
    // the cores at times) has its sound delayed with its pictures and then caught up by dropping some of it
    // (maxAudioDelayMs, audioSamplesDropped), which moves beeps as loss never should. Such a window says nothing
    // of sync under loss: the next one is taken, up to three; said in every failure below.
    let attempt = 0;
    let window: Awaited<ReturnType<typeof syncWindow>>;
    for (;;) {
      attempt += 1;
      window = await syncWindow(env.server.url, channel, mediaUrl);
      t.diagnostic(`window ${attempt}: ${window.described}`);
      if (!window.starved || attempt === 3) break;
    }
    const { onsets, offsets } = window;
    const mixer = `${window.mixer} (window ${attempt}${window.starved ? ', starved' : ''})`;
    // Four 2 s segments hold about eight flashes; one whose frames were all lost is missing. A flash whose first
    // frames were lost for good shows late (the picture before it is held until the next keyframe): that is loss,
    // not drift, so sync is judged on the median.
    assert.ok(offsets.length >= 5, `only ${offsets.length} flashes found: ${JSON.stringify(onsets)}`);
    const sorted = [...offsets].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    assert.ok(
      median >= medianOffsetRange.earliest && median <= medianOffsetRange.latest,
      `median A/V offset ${median.toFixed(3)} s: ${sorted.join(' ')}; mixer ${mixer}`,
    );
    // The beeps are 1 s apart on the source's clock and must stay so on the playlist's timeline: a lost packet is
    // 20 ms of silence, it must not pull the sound after it earlier (which drifts it ahead of the picture). A
    // beep's start counts as on time from 10 ms before the median phase to 10 ms after it, or up to one lost
    // packet (20 ms) later still: a beep whose first packet was lost starts late, never early. A few may miss.
    const starts = onsets.audio.filter((time, index) => index === 0 || time - onsets.audio[index - 1]! > 0.5);
    const phase = (time: number) => time - Math.floor(time / periodSeconds) * periodSeconds;
    const phases = unwrapPhases(starts.map(phase), periodSeconds);
    const medianPhase = phases[Math.floor(phases.length / 2)] ?? Number.NaN;
    const onTime = phases.filter(
      (p) =>
        p >= medianPhase - beepPhaseToleranceSeconds &&
        p <= medianPhase + beepPhaseToleranceSeconds + lostPacketSeconds,
    );
    assert.ok(
      onTime.length >= starts.length - 2,
      `beeps on time: ${onTime.length} of ${starts.length} (phases ${phases.map((p) => p.toFixed(3)).join(' ')}); mixer ${mixer}`,
    );
  });

  test('the losses, NACKs and recovered packets are counted', async () => {
    const metrics = await eventually('NACK counters read from the transport', 10_000, async () => {
      const values = await scrapeMetrics(env.server.url);
      return (values.get('nagare_rtp_nacks_sent_total{kind="video"}') ?? 0) > 0 ? values : undefined;
    });
    const recovered = metrics.get('nagare_rtp_recovered_packets_total{kind="video"}') ?? 0;
    const lost =
      (metrics.get('nagare_rtp_lost_packets_total{kind="video"}') ?? 0) +
      (metrics.get('nagare_rtp_lost_packets_total{kind="audio"}') ?? 0);
    const counts = network.counts();
    assert.ok(recovered > 0, `recovered ${recovered}`);
    // Audio is not retransmitted: Opus packets the relay dropped are lost for good.
    assert.ok(lost > 0, `lost ${lost} with ${counts.upstream.dropped} dropped by the relay`);
  });
});
