/**
 * Soak: the real server (the CLI, in its own process) carrying one channel with three broadcasters — the
 * unmodified sora-js-sdk in headless Chromium, each a canvas of its own colour and a tone, composed in a grid to one
 * 640x480@30 1 Mbps variant — and 50 LL-HLS viewers in this process, each doing what hls.js does at the live edge:
 * a blocking playlist request for the next part, then the part. Every minute it samples the server's resident
 * memory, JS heap, open file descriptors, the CPU of the server and of its ffmpeg children, the ingest-to-playlist
 * latency (the server's gauge of how far behind real time each new part is when listed) and what the viewers got. At the end it compares the last third of the run
 * with the first (after a minute of warm-up): nothing may grow.
 *
 *   node bench/soak.ts [minutes=30] [viewers=50] [publishers=3]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from '../test/e2e/harness/chromium.ts';
import { startPageServer } from '../test/e2e/harness/page-server.ts';
import { openSoraClient, type SoraClientPage } from '../test/e2e/harness/sora-page.ts';
import { callApi, makeTempDir, scrapeMetrics, spawnServer, testToken } from '../test/helpers/server.ts';
import { cpuMsOf, percentile } from './bench-util.ts';
import { writeResults } from './results.ts';

const minutes = Number(process.argv[2] ?? '30');
const viewerCount = Number(process.argv[3] ?? '50');
const publisherCount = Number(process.argv[4] ?? '3');
const sampleEveryMs = Number(process.env['SOAK_SAMPLE_MS'] ?? '60000');
const warmUpSamples = 1;
const colours = ['#ff0000', '#0000ff', '#00ff00', '#ffff00'];
const variant = { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 96_000 } };
/** A viewer that gets no answer in this long counts an error and starts over from a plain playlist request. */
const viewerTimeoutMs = 10_000;

/** Pids of every descendant of `pid` (the server's ffmpeg processes), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const task of listOrNothing(() => readdirSync(`/proc/${pid}/task`))) {
    const children = listOrNothing(() =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' '),
    );
    for (const child of children.filter((c) => c !== '').map(Number)) out.push(child, ...descendants(child));
  }
  return out;
}

/** What `read` returns, or nothing when the process or thread it reads has gone meanwhile. */
function listOrNothing(read: () => string[]): string[] {
  try {
    return read();
  } catch {
    return [];
  }
}

function residentMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) / 1024;
}

interface Sample {
  minute: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's committed heap (the young generation grows to 128 MiB under a high allocation rate). */
  heapTotalMiB: number;
  /** Buffers outside the JS heap. */
  externalMiB: number;
  fds: number;
  serverCores: number;
  ffmpegCores: number;
  ffmpegProcesses: number;
  /** The server's ingest-to-playlist gauge: how far behind real time its newest part was when listed. */
  ingestToPlaylistSeconds: number;
  /** Parts the viewers got since the previous sample. */
  partsGot: number;
  viewerErrors: number;
  partWaitP95Ms: number;
}

interface ViewerTally {
  parts: number;
  bytes: number;
  errors: number;
  /** ms from asking for a part (its preload hint) to having all of it. */
  partWaitsMs: number[];
}

/**
 * One LL-HLS viewer at the live edge until `signal` aborts: the playlist (blocking on the part it waits for), the
 * part its preload hint names, and so on.
 */
async function watch(mediaUrl: URL, tally: ViewerTally, signal: AbortSignal): Promise<void> {
  let next: { msn: number; part: number } | undefined;
  while (!signal.aborted) {
    try {
      const timeout = AbortSignal.any([signal, AbortSignal.timeout(viewerTimeoutMs)]);
      const query = next === undefined ? '' : `?_HLS_msn=${next.msn}&_HLS_part=${next.part}`;
      const playlist = await fetch(new URL(query, mediaUrl), { signal: timeout });
      const text = await playlist.text();
      const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"/.exec(text);
      if (!playlist.ok || hint === null) throw new Error(`playlist: HTTP ${playlist.status}`);
      const msn = Number(hint[1]);
      const part = Number(hint[2]);
      const asked = performance.now();
      const response = await fetch(new URL(`${msn}.${part}.m4s`, mediaUrl), { signal: timeout });
      const body = await response.arrayBuffer();
      if (!response.ok) throw new Error(`part: HTTP ${response.status}`);
      tally.parts += 1;
      tally.bytes += body.byteLength;
      tally.partWaitsMs.push(performance.now() - asked);
      // The playlist that lists this part also hints the one after it.
      next = { msn, part };
    } catch (error) {
      // Stopping aborts the request in flight: that is no error.
      if (error === signal.reason) return;
      tally.errors += 1;
      next = undefined;
      await sleep(500);
    }
  }
}

const dataDir = await makeTempDir('nagare-soak-');
const server = await spawnServer(['--data-dir', dataDir, '--api-token', testToken, '--api-rate', '1000']);
const serverPid = server.child.pid ?? 0;
const pages = await startPageServer();
const browser = await launchBrowser();
const viewersStop = new AbortController();
const publishers: SoraClientPage[] = [];

/** Stops everything, each part whatever happened to the others (the server first: it holds the most). */
const stopAll = async (): Promise<void> => {
  viewersStop.abort();
  const results = await Promise.allSettled([
    server.stop(),
    ...publishers.map(async (publisher) => {
      await publisher.close();
    }),
  ]);
  results.push(...(await Promise.allSettled([browser.close(), pages.close()])));
  await rm(dataDir, { recursive: true, force: true });
  for (const result of results)
    if (result.status === 'rejected') console.error('while stopping:', result.reason);
};
process.once('SIGINT', () => {
  void stopAll().finally(() => process.exit(130));
});

try {
  const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [variant] });
  const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
    channel_id: string;
    playlist_url: string;
  };
  const signalingUrl = `${server.url.replace('http', 'ws')}/signaling`;
  for (let index = 0; index < publisherCount; index++) {
    const publisher = await openSoraClient(browser, pages.url);
    publishers.push(publisher);
    const connected = await publisher.connect({
      signalingUrl,
      channelId,
      role: 'sendonly',
      source: { color: colours[index % colours.length] ?? '#ffffff', toneHz: 300 + 200 * index },
      options: { videoCodecType: 'H264' },
    });
    if (!('connectionId' in connected)) throw new Error(`publisher ${index}: ${JSON.stringify(connected)}`);
  }

  // The media playlist, once the channel is live.
  let mediaUrl: URL | undefined;
  for (let tries = 0; mediaUrl === undefined && tries < 60; tries++) {
    const multivariant = await fetch(playlistUrl);
    const uri = (await multivariant.text()).split('\n').find((line) => line.endsWith('.m3u8'));
    if (multivariant.ok && uri !== undefined) mediaUrl = new URL(uri, playlistUrl);
    else await sleep(1000);
  }
  if (mediaUrl === undefined) throw new Error('the channel never went live');

  const tallies: ViewerTally[] = Array.from({ length: viewerCount }, () => ({
    parts: 0,
    bytes: 0,
    errors: 0,
    partWaitsMs: [],
  }));
  const viewing = tallies.map((tally) => watch(mediaUrl, tally, viewersStop.signal));

  const cpuOf = () => ({
    server: cpuMsOf(serverPid),
    ffmpeg: descendants(serverPid).reduce((sum, pid) => sum + cpuMsOf(pid), 0),
    at: performance.now(),
  });
  let previousCpu = cpuOf();
  const samples: Sample[] = [];
  console.log(
    'min  rss MiB  heap MiB  heap total  external  fds  server cores  ffmpeg cores  ffmpeg  ingest→playlist s  parts got  viewer errors  part wait p95 ms',
  );
  for (let minute = 1; minute <= minutes; minute++) {
    await sleep(sampleEveryMs);
    const metrics = await scrapeMetrics(server.url);
    const cpu = cpuOf();
    const wallMs = cpu.at - previousCpu.at;
    const waits = tallies.flatMap((t) => t.partWaitsMs.splice(0));
    const sample: Sample = {
      minute,
      rssMiB: Number(residentMiB(serverPid).toFixed(1)),
      heapMiB: Number(
        ((metrics.get('nagare_nodejs_heap_size_used_bytes') ?? Number.NaN) / 2 ** 20).toFixed(1),
      ),
      fds: metrics.get('nagare_process_open_fds') ?? Number.NaN,
      serverCores: Number(((cpu.server - previousCpu.server) / wallMs).toFixed(3)),
      ffmpegCores: Number(((cpu.ffmpeg - previousCpu.ffmpeg) / wallMs).toFixed(3)),
      ffmpegProcesses: descendants(serverPid).length,
      ingestToPlaylistSeconds: metrics.get('nagare_hls_ingest_to_playlist_seconds') ?? Number.NaN,
      heapTotalMiB: Number(
        ((metrics.get('nagare_nodejs_heap_size_total_bytes') ?? Number.NaN) / 2 ** 20).toFixed(1),
      ),
      externalMiB: Number(
        ((metrics.get('nagare_nodejs_external_memory_bytes') ?? Number.NaN) / 2 ** 20).toFixed(1),
      ),
      partsGot: waits.length,
      viewerErrors: tallies.reduce((sum, t) => sum + t.errors, 0),
      partWaitP95Ms: Math.round(percentile(waits, 95)),
    };
    previousCpu = cpu;
    samples.push(sample);
    console.log(
      [
        String(minute).padStart(3),
        sample.rssMiB.toFixed(1).padStart(8),
        sample.heapMiB.toFixed(1).padStart(9),
        sample.heapTotalMiB.toFixed(1).padStart(11),
        sample.externalMiB.toFixed(1).padStart(9),
        String(sample.fds).padStart(4),
        sample.serverCores.toFixed(3).padStart(13),
        sample.ffmpegCores.toFixed(3).padStart(13),
        String(sample.ffmpegProcesses).padStart(7),
        sample.ingestToPlaylistSeconds.toFixed(3).padStart(18),
        String(sample.partsGot).padStart(10),
        String(sample.viewerErrors).padStart(14),
        String(sample.partWaitP95Ms).padStart(17),
      ].join(' '),
    );
  }

  viewersStop.abort();
  await Promise.all(viewing);

  // Growth: the mean of the last third against the mean of the first third, warm-up left out.
  const steady = samples.slice(warmUpSamples);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const growth = (pick: (s: Sample) => number) => {
    const first = mean(steady.slice(0, third).map(pick));
    const last = mean(steady.slice(-third).map(pick));
    return {
      first: Number(first.toFixed(3)),
      last: Number(last.toFixed(3)),
      change: Number((last - first).toFixed(3)),
    };
  };
  const figures = {
    minutes,
    viewers: viewerCount,
    publishers: publisherCount,
    variant: '640x480@30 1 Mbps + 96 kbps AAC, grid composite',
    growth: {
      rssMiB: growth((s) => s.rssMiB),
      heapMiB: growth((s) => s.heapMiB),
      heapTotalMiB: growth((s) => s.heapTotalMiB),
      externalMiB: growth((s) => s.externalMiB),
      fds: growth((s) => s.fds),
      ingestToPlaylistSeconds: growth((s) => s.ingestToPlaylistSeconds),
      serverCores: growth((s) => s.serverCores),
      ffmpegCores: growth((s) => s.ffmpegCores),
    },
    viewerErrors: tallies.reduce((sum, t) => sum + t.errors, 0),
    partsServed: tallies.reduce((sum, t) => sum + t.parts, 0),
    bytesServed: tallies.reduce((sum, t) => sum + t.bytes, 0),
    samples,
  };
  console.log('\nfirst third → last third (after warm-up):');
  for (const [name, g] of Object.entries(figures.growth)) {
    console.log(
      `  ${name.padEnd(16)} ${String(g.first).padStart(9)} → ${String(g.last).padStart(9)} (${g.change >= 0 ? '+' : ''}${g.change})`,
    );
  }
  console.log(`viewer errors ${figures.viewerErrors}, parts served ${figures.partsServed}`);
  console.log(`written to ${writeResults('soak', figures, { programs: { chromium: ['--version'] } })}`);
} finally {
  await stopAll();
}
