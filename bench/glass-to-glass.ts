/**
 * Glass to glass: how far behind the broadcaster each viewer is. A publisher page in headless Chromium draws
 * Date.now() (Gray-coded) as two rows of blocks on a canvas every 5 ms (test/e2e/harness/pages/clock-pattern.js, the
 * sora-client page's source 'clock') and publishes it with the unmodified sora-js-sdk to the real server (the CLI, in its own process, with
 * its defaults). Four viewer pages in the same browser read the time back from every frame they present
 * (pages/clock-reader.js: requestVideoFrameCallback, then the blocks' pixels) and record Date.now() − drawn: hls.js in low-latency mode
 * on the LL-HLS playlist, hls.js in standard mode on the same playlist, Nagare's own /watch page (hls.js in
 * low-latency mode, moving to its target latency when it starts behind it) and a sora-js-sdk recvonly client (the
 * WebRTC path). They watch one after the other, each for the measured window after a warm-up, so a viewer shares
 * the machine only with the broadcaster's browser and the server. Both ends share the machine's clock.
 *
 * The viewers join `joinAfterSeconds` after the channel's playlist can be played, as viewers of a live channel do.
 * With 0 they are there before the stream starts: hls.js (1.7) then starts on the first segment, turns part loading
 * off after it and stalls until the next segment is complete, and never catches up (it does not play faster by
 * default), so its latency stays higher by that stall for the whole window.
 *
 * Each hls.js viewer also reports where it holds itself: its target latency (from the playlist's PART-HOLD-BACK or
 * HOLD-BACK) and its measured distance to the live edge, so the figure splits into "glass to live edge" (the
 * pipeline) and "live edge to screen" (the player). Arguments after the three numbers go to the server, e.g.
 * `--part-duration 0.25`.
 *
 *   node bench/glass-to-glass.ts [seconds=60] [warmUpSeconds=20] [joinAfterSeconds=5] [server flags…]
 */
import type { Page } from 'playwright-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from '../test/e2e/harness/chromium.ts';
import { startPageServer } from '../test/e2e/harness/page-server.ts';
import { openSoraClient } from '../test/e2e/harness/sora-page.ts';
import { callApi, makeTempDir, spawnServer, testToken } from '../test/helpers/server.ts';
import { percentile } from './bench-util.ts';
import { writeResults } from './results.ts';

const seconds = Number(process.argv[2] ?? '60');
const warmUpSeconds = Number(process.argv[3] ?? '20');
const joinAfterSeconds = Number(process.argv[4] ?? '5');
const serverFlags = process.argv.slice(5);
const variant = { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 96_000 } };
interface ReaderState {
  latenciesMs: number[];
  /** Frames whose two rows did not agree (caught mid-change, or too blurred to read). */
  unreadable: number;
}

/** Loads pages/clock-reader.js into `page` and starts it on the video `selector` names. */
async function startReader(page: Page, selector: string): Promise<void> {
  await page.addScriptTag({ url: `${pageServerUrl}/clock-reader.js`, type: 'module' });
  await page.waitForFunction(() => 'startClockReader' in globalThis);
  await page.evaluate((s) => {
    (globalThis as unknown as { startClockReader(selector: string): void }).startClockReader(s);
  }, selector);
}

const readerState = async (page: Page): Promise<ReaderState> =>
  await page.evaluate(() => {
    const state = (globalThis as unknown as { glassToGlass?: ReaderState }).glassToGlass;
    return state === undefined
      ? { latenciesMs: [], unreadable: 0 }
      : { ...state, latenciesMs: [...state.latenciesMs] };
  });

/**
 * Where an hls.js viewer holds itself: hls.targetLatency and hls.latency (distance to the live edge), seconds. The
 * /watch page keeps its hls.js to itself and shows only the distance, to a tenth of a second.
 */
interface PlayerEdge {
  targetS?: number;
  latencyS: number;
}

async function playerEdge(page: Page): Promise<PlayerEdge | undefined> {
  return await page.evaluate(() => {
    const hls = (globalThis as unknown as { hls?: { targetLatency: number | null; latency: number } }).hls;
    if (hls !== undefined)
      return hls.targetLatency === null ? undefined : { targetS: hls.targetLatency, latencyS: hls.latency };
    const { document } = globalThis as unknown as {
      document: { querySelector(selector: string): { textContent: string | null } | null };
    };
    const shown = Number.parseFloat(document.querySelector('#latency')?.textContent ?? '');
    return Number.isFinite(shown) ? { latencyS: shown } : undefined;
  });
}

/** Resolves once the multivariant playlist answers 200 (404 until the stream starts; held until playable). */
async function playable(multivariantUrl: string): Promise<void> {
  for (;;) {
    const response = await fetch(multivariantUrl);
    await response.text();
    if (response.ok) return;
    await sleep(100);
  }
}

/** The first variant's EXT-X-PART-INF and EXT-X-SERVER-CONTROL lines, as the server writes them. */
async function readServerControl(multivariantUrl: string): Promise<string> {
  const multivariant = await (await fetch(multivariantUrl)).text();
  const variantUri = multivariant.split('\n').find((line) => line.length > 0 && !line.startsWith('#'));
  if (variantUri === undefined) return 'no variant';
  const media = await (await fetch(new URL(variantUri, multivariantUrl))).text();
  return media
    .split('\n')
    .filter((line) => line.startsWith('#EXT-X-PART-INF') || line.startsWith('#EXT-X-SERVER-CONTROL'))
    .join(' ');
}

const dataDir = await makeTempDir('nagare-g2g-');
const server = await spawnServer(['--data-dir', dataDir, '--api-token', testToken, ...serverFlags]);
const pages = await startPageServer();
const pageServerUrl = pages.url;
const browser = await launchBrowser();
try {
  const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [variant] });
  const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
    channel_id: string;
    playlist_url: string;
  };
  const signalingUrl = `${server.url.replace('http', 'ws')}/signaling`;
  const publisher = await openSoraClient(browser, pages.url);
  const published = await publisher.connect({
    signalingUrl,
    channelId,
    role: 'sendonly',
    source: 'clock',
    options: { videoCodecType: 'H264' },
  });
  if (!('connectionId' in published)) throw new Error(`publisher: ${JSON.stringify(published)}`);
  if (joinAfterSeconds > 0) {
    await playable(playlistUrl);
    await sleep(joinAfterSeconds * 1000);
  }

  // One viewer at a time, each on a machine that otherwise carries only the broadcaster and the server.
  const viewers: { name: string; open(): Promise<Page> }[] = [
    ...(
      [
        ['LL-HLS (hls.js lowLatencyMode)', true],
        ['HLS (hls.js standard)', false],
      ] as const
    ).map(([name, lowLatency]) => ({
      name,
      async open() {
        const page = await browser.newPage();
        await page.goto(`${pages.url}/hls-player.html`);
        await page.evaluate(
          ({ url, low }) => {
            (globalThis as unknown as { playHls(u: string, l: boolean): void }).playHls(url, low);
          },
          { url: playlistUrl, low: lowLatency },
        );
        await startReader(page, '#video');
        return page;
      },
    })),
    {
      name: "LL-HLS (Nagare's /watch page)",
      async open() {
        const page = await browser.newPage();
        await page.goto(`${server.url}/watch?src=${encodeURIComponent(playlistUrl)}`);
        await startReader(page, '#video');
        return page;
      },
    },
    {
      name: 'WebRTC (sora-js-sdk recvonly)',
      async open() {
        const receiver = await openSoraClient(browser, pages.url);
        const received = await receiver.connect({ signalingUrl, channelId, role: 'recvonly' });
        if (!('connectionId' in received)) throw new Error(`receiver: ${JSON.stringify(received)}`);
        await startReader(receiver.page, '#remote-videos video');
        return receiver.page;
      },
    },
  ];

  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const figures = [];
  for (const viewer of viewers) {
    const page = await viewer.open();
    await sleep(warmUpSeconds * 1000);
    const from = await readerState(page);
    const edges: PlayerEdge[] = [];
    for (let second = 0; second < seconds; second++) {
      await sleep(1000);
      const edge = await playerEdge(page);
      if (edge !== undefined) edges.push(edge);
    }
    const to = await readerState(page);
    await page.close();
    const window = to.latenciesMs.slice(from.latenciesMs.length);
    const targets = edges.flatMap((e) => (e.targetS === undefined ? [] : [e.targetS]));
    figures.push({
      viewer: viewer.name,
      ...(targets.length > 0 ? { playerTargetLatencyMs: Math.round(mean(targets) * 1000) } : {}),
      ...(edges.length > 0
        ? { playerDistanceToEdgeMs: Math.round(mean(edges.map((e) => e.latencyS)) * 1000) }
        : {}),
      frames: window.length,
      unreadable: to.unreadable - from.unreadable,
      p50Ms: Math.round(percentile(window, 50)),
      p95Ms: Math.round(percentile(window, 95)),
      maxMs: Math.round(Math.max(...window)),
      minMs: Math.round(Math.min(...window)),
    });
  }
  const serverControl = await readServerControl(playlistUrl);
  const flags = serverFlags.length > 0 ? serverFlags.join(' ') : 'server defaults';
  console.log(
    `glass to glass over ${seconds} s (viewers joined ${joinAfterSeconds} s after the stream could be played, ` +
      `then ${warmUpSeconds} s warm-up each, one after the other), 640x480@30 1 Mbps, ${flags}`,
  );
  console.log(`playlist: ${serverControl}`);
  console.log(
    'viewer                             frames  unreadable   p50 ms   p95 ms   max ms   player: target, to edge ms',
  );
  for (const f of figures) {
    const edge =
      f.playerDistanceToEdgeMs === undefined
        ? ''
        : `${f.playerTargetLatencyMs ?? '?'}, ${f.playerDistanceToEdgeMs}`;
    console.log(
      `${f.viewer.padEnd(34)} ${String(f.frames).padStart(6)} ${String(f.unreadable).padStart(11)} ${String(f.p50Ms).padStart(8)} ${String(f.p95Ms).padStart(8)} ${String(f.maxMs).padStart(8)}   ${edge}`,
    );
  }
  for (const f of figures.filter((figure) => figure.viewer.startsWith('LL-HLS'))) {
    console.log(`${f.viewer}: p50 ${f.p50Ms} ms, target ≤ 1500 ms ${f.p50Ms <= 1500 ? 'met' : 'NOT met'}`);
  }
  const path = writeResults(
    'glass-to-glass',
    {
      seconds,
      warmUpSeconds,
      joinAfterSeconds,
      variant: '640x480@30 1 Mbps',
      serverFlags,
      serverControl,
      viewers: figures,
    },
    { programs: { chromium: ['--version'] } },
  );
  console.log(`written to ${path}`);
} finally {
  await browser.close();
  await pages.close();
  await server.stop();
}
