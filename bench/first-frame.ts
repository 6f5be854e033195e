/**
 * Time to first frame: from the broadcaster's `connect()` in the unmodified sora-js-sdk (headless Chromium, a
 * 640x480 canvas and a tone) to (1) the SDK's connect() resolving (signaling, ICE, DTLS done), (2) the first
 * playable part: the channel's multivariant playlist, asked for every 25 ms from connect() (it is 404 until the
 * channel's pipeline starts with its first publisher, then held by the server until every variant has a part),
 * is answered, and (3) the first frame hls.js (low-latency mode, started when that answer came, as a page that
 * waits for a channel to go live does) presents, from requestVideoFrameCallback. The real server (the CLI, its own
 * process, its defaults) and a new channel per trial; Date.now() on both sides (same machine).
 *
 *   node bench/first-frame.ts [trials=5]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from '../test/e2e/harness/chromium.ts';
import { startPageServer } from '../test/e2e/harness/page-server.ts';
import { openSoraClient } from '../test/e2e/harness/sora-page.ts';
import { callApi, makeTempDir, spawnServer, testToken } from '../test/helpers/server.ts';
import { percentile } from './bench-util.ts';
import { writeResults } from './results.ts';

const trials = Number(process.argv[2] ?? '5');
const variant = { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 96_000 } };
const firstFrameTimeoutMs = 20_000;

/** What test/e2e/harness/pages/hls-player.html puts on window, as far as this bench reads it. */
interface PlayerWindow {
  playerState(): { firstFrameAt: number | null };
}

interface Trial {
  connectedMs: number;
  firstPartMs: number;
  firstFrameMs: number;
}

/** Date.now() when `url` first answers 200, asking again 25 ms after each 404, until `deadline`. */
async function firstAnswer(url: string, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    const response = await fetch(url);
    await response.text();
    if (response.ok) return Date.now();
    if (response.status !== 404) throw new Error(`multivariant playlist: HTTP ${response.status}`);
    await sleep(25);
  }
  throw new Error('multivariant playlist: still 404 at the deadline');
}

const dataDir = await makeTempDir('nagare-first-frame-');
const server = await spawnServer(['--data-dir', dataDir, '--api-token', testToken]);
const pages = await startPageServer();
const browser = await launchBrowser();
const signalingUrl = `${server.url.replace('http', 'ws')}/signaling`;
const results: Trial[] = [];
try {
  for (let trial = 1; trial <= trials; trial++) {
    const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [variant] });
    const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
      channel_id: string;
      playlist_url: string;
    };
    const viewer = await browser.newPage();
    await viewer.goto(`${pages.url}/hls-player.html`);
    const publisher = await openSoraClient(browser, pages.url);
    const connectAt = Date.now();
    const firstPart = firstAnswer(playlistUrl, connectAt + firstFrameTimeoutMs);
    const connected = await publisher.connect({
      signalingUrl,
      channelId,
      role: 'sendonly',
      source: { color: '#3060c0', toneHz: 440 },
      options: { videoCodecType: 'H264' },
    });
    const connectedAt = Date.now();
    if (!('connectionId' in connected)) throw new Error(`publisher: ${JSON.stringify(connected)}`);
    const firstPartAt = await firstPart;
    await viewer.evaluate((url) => {
      (globalThis as unknown as { playHls(u: string, lowLatency: boolean): void }).playHls(url, true);
    }, playlistUrl);
    const firstFrameAt = await viewer
      .waitForFunction(() => (globalThis as unknown as PlayerWindow).playerState().firstFrameAt, null, {
        timeout: firstFrameTimeoutMs,
      })
      .then(async (handle) => (await handle.jsonValue()) ?? 0);
    const result = {
      connectedMs: connectedAt - connectAt,
      firstPartMs: firstPartAt - connectAt,
      firstFrameMs: firstFrameAt - connectAt,
    };
    results.push(result);
    console.log(
      `trial ${trial}: connected ${result.connectedMs} ms, first part ${result.firstPartMs} ms, first frame in hls.js ${result.firstFrameMs} ms`,
    );
    await publisher.disconnect();
    await publisher.close();
    await viewer.close();
    await callApi(server.url, 'ImageFlux_20180501.DeleteChannel', { channel_id: channelId });
    await sleep(1000);
  }

  const summary = (pick: (t: Trial) => number) => {
    const values = results.map(pick);
    return { p50Ms: percentile(values, 50), minMs: Math.min(...values), maxMs: Math.max(...values) };
  };
  const figures = {
    trials,
    variant: '640x480@30 1 Mbps',
    connected: summary((t) => t.connectedMs),
    firstPlayablePart: summary((t) => t.firstPartMs),
    firstFrameInHlsJs: summary((t) => t.firstFrameMs),
    results,
  };
  console.log(`\nover ${trials} trials (median, min–max), from connect():`);
  for (const [name, s] of [
    ['SDK connected', figures.connected],
    ['first playable part', figures.firstPlayablePart],
    ['first frame in hls.js', figures.firstFrameInHlsJs],
  ] as const) {
    console.log(`  ${name.padEnd(22)} ${String(s.p50Ms).padStart(6)} ms  (${s.minMs}–${s.maxMs})`);
  }
  console.log(
    `written to ${writeResults('first-frame', figures, { programs: { chromium: ['--version'] } })}`,
  );
} finally {
  await browser.close();
  await pages.close();
  await server.stop();
}
