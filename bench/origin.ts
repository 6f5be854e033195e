/**
 * The HLS origin under load, against Debian's nginx serving the same bytes in the same run.
 *
 * What is served: the real CLI (src/main.ts) in a child process, so that its memory is its own, with one live
 * channel (one 640x480@30 1 Mbps variant, 2 s segments, the default 0.2 s parts): a werift publisher replays a captured
 * Chromium publisher's RTP (testdata/rtp/h264-opus.jsonl, looped, real time) over real WebRTC, through ingest,
 * decoder, mixer, encoder and packager. The channel stays live throughout, so its ffmpeg children and its mixer
 * (in the server's process) run during every measurement, against nginx as well as against Nagare.
 *
 * Nagare runs with `--hls-port` and one HLS worker thread per core (as nginx runs one worker process per core):
 * that port is what is measured against nginx, and the same server's main port (HLS from the main thread, as
 * without `--hls-port`) is loaded too, for comparison.
 *
 * 1. Requests per second and latency: for a segment and a part of median size among the newest (three segments,
 *    ten parts) and the media playlist (plain GET), the bench fetches all three from Nagare at one moment and
 *    writes the same bytes into nginx's directory under the same paths; then autocannon (`connections` keep-alive
 *    connections, `seconds` each) loads Nagare's HLS port and nginx, then Nagare's main port: by then the segment
 *    or part has left Nagare's window of 8 segments (16 s), so the main port serves the one of its window closest
 *    in size. A fresh snapshot is taken for each resource. Nagare's playlist is live (it changes as parts come);
 *    nginx's is the snapshot. nginx: `worker_processes auto` (2 workers on 2 cores, as Debian configures it),
 *    sendfile, no access log (bench/origin/nginx.ts). autocannon runs in a process of its own but on the same cores as the servers:
 *    the same generator against both, so the ratio is fair; but it is one JavaScript thread, and on large bodies
 *    it can be the limit rather than the server: its CPU is printed, and when it is near a core or both servers
 *    answer at about the same rate, the generator was the limit. So each server's CPU above its idle (sampled for
 *    3 s at the start; Nagare's process also mixes the channel) is printed too, and the requests per CPU-second
 *    of it: the servers' efficiency, whoever was the limit. Then all three again with wrk
 *    (Debian's, in C, two threads), which needs far less CPU per request: nginx then answers several times what
 *    it answers to autocannon, and the ratio shows what the servers themselves can do on the cores left to them.
 *    Target: Nagare ≥ 0.8 × nginx in requests per second.
 * 2. Blocking requests (bench/origin/blocking.ts): `waiting` LL-HLS blocking playlist requests held at once, on
 *    connections without keep-alive, for a part two seconds ahead: the server's resident memory and heap per held
 *    request, and the time from the part appearing (the first answer) to the last of them answered; every answer
 *    checked 200 and listing the part. Run before the load, after a small warm-up round, so that the memory
 *    figure is not lost in the garbage of the load runs.
 *
 * Needs ffmpeg, nginx and wrk (installed with apt-get when missing); `waiting` + 200 open files per process: raise
 * with `ulimit -n 65536` in the same shell when `ulimit -n` is lower.
 *
 * The machine's speed varies from minute to minute (other tenants), so the loads run in `rounds` rounds, each
 * loading every resource from Nagare then nginx; a resource's figures are those of its round with the median
 * ratio, and every round's ratio is kept with them.
 *
 *   node bench/origin.ts [connections=100] [seconds=10] [waiting=10000] [rounds=3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  callApi,
  scrapeMetrics,
  spawnServer,
  testToken,
  type ServerProcess,
} from '../test/helpers/server.ts';
import {
  holdBlockingRequests,
  openFilesLimit,
  type BlockingFigures,
  type ServerProbe,
} from './origin/blocking.ts';
import { ensureWrk, idleCoresOf, runLoad, runWrk, type LoadFigures } from './origin/load.ts';
import { ensureNginx, nginxPath, startNginx, type Nginx } from './origin/nginx.ts';
import { startReplayPublisher } from '../test/helpers/replay-publisher.ts';
import { writeResults } from './results.ts';

const connections = Number(process.argv[2] ?? '100');
const seconds = Number(process.argv[3] ?? '10');
const waiting = Number(process.argv[4] ?? '10000');
const rounds = Number(process.argv[5] ?? '3');
/** Worker threads of Nagare's HLS port: one per core, as nginx's `worker_processes auto`. */
const hlsWorkers = availableParallelism();

/**
 * A segment stays in Nagare's window of 8 complete segments for 16 s after it is made, and is up to 2 s old when
 * taken: a longer run would load a segment gone (404).
 */
const maxSeconds = 12;
/** Open files besides the held requests: the server's channel, ffmpeg pipes, the load generator's. */
const spareFiles = 200;
/** Held requests of the warm-up round, discarded: the server's code paths compiled, its pools grown. */
const warmUpRequests = 500;
/** Pause after the blocking requests, for the server to let go of their connections before the load. */
const settleMs = 2000;
/** Complete segments the playlist has before anything is measured. */
const segmentsBeforeStart = 3;
const startTimeoutMs = 30_000;
const target = 0.8;
const variant = { video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 64_000 } };

if (!Number.isInteger(connections) || connections < 1)
  throw new Error('connections must be a positive integer');
if (!(seconds >= 1 && seconds <= maxSeconds)) {
  throw new Error(
    `seconds must be from 1 to ${maxSeconds}: the segment loaded leaves Nagare's window 16 s after it is made`,
  );
}
if (!Number.isInteger(waiting) || waiting < 1) throw new Error('waiting must be a positive integer');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('rounds must be a positive integer');
if (openFilesLimit() < waiting + spareFiles) {
  throw new Error(
    `ulimit -n is ${openFilesLimit()}; ${waiting} held requests need ${waiting + spareFiles}: ` +
      `run \`ulimit -n ${Math.max(65_536, waiting + spareFiles)}\` in this shell first`,
  );
}

async function fetchBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

const resources = ['segment', 'part', 'playlist'] as const;
type Resource = (typeof resources)[number];

/**
 * Segments and parts among which the one of median size is loaded: the newest 6 s and 2 s, so none leaves the
 * window (8 segments, 16 s) while loaded.
 */
const segmentCandidates = 3;
const partCandidates = 10;

type Fetched = { path: string; bytes: Buffer };

/** The media playlist's folder: its segments' and parts' URIs are relative to it. */
const folderOf = (playlistPath: string): string => playlistPath.slice(0, playlistPath.lastIndexOf('/') + 1);

/** The segment and part URIs a media playlist lists, oldest first (parts only for its last three segments). */
function listedMedia(playlist: Buffer): { segments: string[]; parts: string[] } {
  const lines = playlist.toString('utf8').split('\n');
  return {
    segments: lines.filter((line) => /^\d+\.m4s$/.test(line)),
    parts: lines.flatMap((line) =>
      line.startsWith('#EXT-X-PART:') ? [/URI="([^"]+)"/.exec(line)?.[1] ?? ''] : [],
    ),
  };
}

/** Fetches every URI (relative to `folder`), at once. */
function fetchAll(baseUrl: string, folder: string, uris: readonly string[]): Promise<Fetched[]> {
  return Promise.all(
    uris.map(async (uri) => ({
      path: `${folder}${uri}`,
      bytes: await fetchBytes(`${baseUrl}${folder}${uri}`),
    })),
  );
}

/** The resource of median size; undefined for none. */
function medianBySize(resources: Fetched[]): Fetched | undefined {
  const sorted = [...resources].sort((a, b) => a.bytes.length - b.bytes.length);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The media playlist, a segment and a part of typical size, fetched from Nagare together: the segment of median
 * size among the newest three, the part among the newest ten. Segments range from 70 to 160 kB and parts from
 * 1 kB to tens (a keyframe's), so the newest alone would make the figure a matter of chance.
 */
async function snapshot(baseUrl: string, playlistPath: string): Promise<Record<Resource, Fetched>> {
  const folder = folderOf(playlistPath);
  const playlist = await fetchBytes(`${baseUrl}${playlistPath}`);
  const listed = listedMedia(playlist);
  const [segments, parts] = await Promise.all([
    fetchAll(baseUrl, folder, listed.segments.slice(-segmentCandidates)),
    fetchAll(baseUrl, folder, listed.parts.slice(-partCandidates)),
  ]);
  const segment = medianBySize(segments);
  const part = medianBySize(parts);
  if (segment === undefined || part === undefined)
    throw new Error(`no segment or part listed:\n${playlist.toString('utf8')}`);
  return { segment, part, playlist: { path: playlistPath, bytes: playlist } };
}

/**
 * The playlist, or the segment or part among the newest closest in size to `bytes` (the resource loaded before it
 * has left the window by then).
 */
async function similar(
  baseUrl: string,
  playlistPath: string,
  resource: Resource,
  bytes: number,
): Promise<Fetched> {
  const playlist = await fetchBytes(`${baseUrl}${playlistPath}`);
  if (resource === 'playlist') return { path: playlistPath, bytes: playlist };
  const listed = listedMedia(playlist);
  // Only the newest: an older one would leave the window while it is loaded (404s).
  const uris = resource === 'segment' ? listed.segments.slice(-3) : listed.parts;
  let best: Fetched | undefined;
  for (const candidate of await fetchAll(baseUrl, folderOf(playlistPath), uris)) {
    if (best === undefined || Math.abs(candidate.bytes.length - bytes) < Math.abs(best.bytes.length - bytes))
      best = candidate;
  }
  if (best === undefined) throw new Error(`no ${resource} listed:\n${playlist.toString('utf8')}`);
  return best;
}

interface Comparison {
  path: string;
  bytes: number;
  /** On the HLS port, served by the HLS workers. */
  nagare: LoadFigures;
  /** On the main port, served by the main thread (Nagare without --hls-port): of `mainPortPath`. */
  nagareMainPort: LoadFigures;
  mainPortPath: string;
  mainPortBytes: number;
  nginx: LoadFigures;
  /** Nagare's requests per second (HLS port) over nginx's. */
  ratio: number;
  /** The same on the main port. */
  mainPortRatio: number;
  met: boolean;
  /** Nagare's requests per CPU-second above idle over nginx's. */
  efficiencyRatio: number | null;
}

/** The round with the median ratio (the lower middle one of an even count), with every round's ratio. */
type MedianComparison = Comparison & {
  roundRatios: number[];
  /** Requests per second of each server in every round: a round far off the others shows in them. */
  roundRequestsPerSecond: { nagare: number; mainPort: number; nginx: number }[];
};

function medianRound(runs: readonly Comparison[]): MedianComparison {
  const sorted = [...runs].sort((a, b) => a.ratio - b.ratio);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('no rounds');
  return {
    ...median,
    roundRatios: runs.map((run) => run.ratio),
    roundRequestsPerSecond: runs.map((run) => ({
      nagare: run.nagare.requestsPerSecond,
      mainPort: run.nagareMainPort.requestsPerSecond,
      nginx: run.nginx.requestsPerSecond,
    })),
  };
}

/** Both servers as a run needs them: where to load, and the processes whose CPU is counted. */
interface Servers {
  nagare: ServerProcess;
  /** http://127.0.0.1:<HLS port> */
  hlsUrl: string;
  nagareCpu: { pids: readonly number[]; idleCores: number };
  nginx: Nginx;
  nginxCpu: { pids: readonly number[]; idleCores: number };
  playlistPath: string;
}

type Generator = 'autocannon' | 'wrk';
const generators = { autocannon: runLoad, wrk: runWrk } as const;

async function compare(servers: Servers, resource: Resource, generator: Generator): Promise<Comparison> {
  const load = generators[generator];
  const { nagare: server, hlsUrl, nginx, playlistPath } = servers;
  // Nagare's HLS port and nginx serve the same bytes; a segment is at most 2 s old when taken, and a load takes
  // `seconds`, so it is still in Nagare's window (16 s) when the HLS port is loaded.
  const files = await snapshot(hlsUrl, playlistPath);
  for (const file of Object.values(files)) await nginx.put(file.path, file.bytes);
  const { path, bytes } = files[resource];
  const nginxUrl = `http://127.0.0.1:${nginx.port}${path}`;
  if (!(await fetchBytes(nginxUrl)).equals(bytes)) throw new Error(`nginx does not serve Nagare's ${path}`);
  const nagare = await load(`${hlsUrl}${path}`, connections, seconds, servers.nagareCpu);
  const reference = await load(nginxUrl, connections, seconds, servers.nginxCpu);
  // By now that segment or part may have left the window: the main port is loaded with the one of the window
  // closest to it in size (parts range from a few kB to tens).
  const onMainPort = await similar(server.url, playlistPath, resource, bytes.length);
  const nagareMainPort = await load(
    `${server.url}${onMainPort.path}`,
    connections,
    seconds,
    servers.nagareCpu,
  );
  const ratioOf = (figures: LoadFigures): number =>
    Number((figures.requestsPerSecond / reference.requestsPerSecond).toFixed(2));
  const ratio = ratioOf(nagare);
  const efficiencyRatio =
    nagare.requestsPerServerCpuSecond === null || reference.requestsPerServerCpuSecond === null
      ? null
      : Number((nagare.requestsPerServerCpuSecond / reference.requestsPerServerCpuSecond).toFixed(2));
  return {
    path,
    bytes: bytes.length,
    mainPortPath: onMainPort.path,
    mainPortBytes: onMainPort.bytes.length,
    nagare,
    nagareMainPort,
    nginx: reference,
    ratio,
    mainPortRatio: ratioOf(nagareMainPort),
    met: ratio >= target,
    efficiencyRatio,
  };
}

/** Waits until the media playlist lists `segmentsBeforeStart` complete segments; returns its path. */
async function livePlaylist(baseUrl: string, playlistUrl: string): Promise<string> {
  const multivariant = new URL(playlistUrl);
  const text = (await fetchBytes(`${baseUrl}${multivariant.pathname}`)).toString('utf8');
  const variantUri = text.trim().split('\n').at(-1) ?? '';
  const path = new URL(variantUri, `${baseUrl}${multivariant.pathname}`).pathname;
  const deadline = performance.now() + startTimeoutMs;
  for (;;) {
    const media = (await fetchBytes(`${baseUrl}${path}`)).toString('utf8');
    if (media.split('\n').filter((line) => /^\d+\.m4s$/.test(line)).length >= segmentsBeforeStart)
      return path;
    if (performance.now() > deadline)
      throw new Error(`no ${segmentsBeforeStart} segments in time:\n${media}`);
    await sleep(500);
  }
}

/** nginx prints its version on stderr (which results.ts does not read, so it is kept with the figures too). */
const nginxVersion = (): string => spawnSync(nginxPath, ['-v'], { encoding: 'utf8' }).stderr.trim();

const describeLoad = (label: string, f: LoadFigures): string =>
  `  ${label.padEnd(7)} ${String(f.requestsPerSecond).padStart(7)} req/s  p50 ${f.latencyMs.p50} ms  p99 ` +
  `${f.latencyMs.p99} ms  ${f.throughputMBps} MB/s  errors ${f.errors + f.timeouts}  non-2xx ${f.non2xx}  ` +
  `server ${f.serverCores} cores (idle ${f.serverIdleCores}; ${f.requestsPerServerCpuSecond ?? 'n/a'} req per CPU-s ` +
  `above idle)  generator ${f.loadGeneratorCores} cores`;

interface ChannelFigures {
  /** From the publisher's start to the end of the loads. */
  seconds: number;
  rtpPacketsSent: number;
  videoFramesIngested: number | null;
  videoPacketsLost: number | null;
  audioPacketsLost: number | null;
}

function printComparisons(
  generator: Generator,
  comparisons: Partial<Record<Resource, MedianComparison>>,
): void {
  console.log(
    `\nOrigin under load, ${generator}: ${connections} connections, ${seconds} s each; the median of ${rounds} ` +
      `rounds. Nagare: the HLS port (--hls-port, ${hlsWorkers} worker threads); main: the same server on its ` +
      'main port (HLS from the main thread, as without --hls-port)',
  );
  for (const [resource, c] of Object.entries(comparisons)) {
    console.log(`${resource} ${c.path} (${c.bytes} B)`);
    console.log(describeLoad('Nagare', c.nagare));
    console.log(`${describeLoad('main', c.nagareMainPort)}  (${c.mainPortBytes} B)`);
    console.log(describeLoad('nginx', c.nginx));
    console.log(
      `  Nagare / nginx = ${c.ratio} (target ≥ ${target}: ${c.met ? 'met' : 'NOT met'}); ` +
        `per CPU-second ${c.efficiencyRatio ?? 'n/a'}; main port / nginx = ${c.mainPortRatio}`,
    );
    const rows = c.roundRequestsPerSecond.map(
      (r, i) => `${r.nagare} / ${r.mainPort} / ${r.nginx} (${c.roundRatios[i]})`,
    );
    console.log(`  every round, req/s of Nagare / main / nginx (ratio): ${rows.join('; ')}`);
  }
}

function print(
  comparisons: Record<Resource, MedianComparison>,
  wrkComparisons: Record<Resource, MedianComparison>,
  blocking: BlockingFigures,
  channel: ChannelFigures,
): void {
  printComparisons('autocannon', comparisons);
  printComparisons('wrk', wrkComparisons);
  const b = blocking;
  console.log(`\n${b.requests} blocking playlist requests for part ${b.target}, one connection each`);
  console.log(
    `  connected in ${b.connectMs} ms; all held ${b.allHeldAfterMs ?? 'never (the part came first)'} ms after written`,
  );
  console.log(
    `  server RSS ${b.memory.rssBeforeMB} → ${b.memory.rssConnectedMB} (connected) → ${b.memory.rssHeldMB} MB (held): ` +
      `${b.memory.rssPerRequestKB} kB per held request; heap ${b.memory.heapBeforeMB} → ${b.memory.heapHeldMB} MB: ` +
      `${b.memory.heapPerRequestKB} kB per request`,
  );
  console.log(
    `  answers: ${b.answers.ok} × 200, statuses ${JSON.stringify(b.answers.statuses)}, ${b.answers.withoutPart} ` +
      `without the part, ${b.answers.unanswered} unanswered: ${b.verified ? 'all 200 with the part' : 'NOT all 200 with the part'}`,
  );
  console.log(
    `  first answer (the part appearing) ${b.firstAnswerAfterWriteMs} ms after the requests were written; ` +
      `from it to the last answer ${b.firstToLastMs} ms (p50 ${b.answerMs?.p50} ms, p99 ${b.answerMs?.p99} ms)`,
  );
  console.log(
    `\nThe channel meanwhile (${channel.seconds} s): ${channel.rtpPacketsSent} RTP packets sent, ` +
      `${channel.videoFramesIngested} video frames ingested (the capture has about 30 a second; fewer when the ` +
      `load starved the publisher, which shares the cores), ${channel.videoPacketsLost} video and ` +
      `${channel.audioPacketsLost} audio packets lost`,
  );
}

ensureNginx();
ensureWrk();
const cleanup: (() => Promise<unknown>)[] = [];
try {
  const dataDir = await mkdtemp(join(tmpdir(), 'nagare-bench-origin-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const server = await spawnServer([
    ...['--api-token', testToken, '--data-dir', dataDir],
    ...['--hls-port', '0', '--hls-workers', String(hlsWorkers)],
  ]);
  cleanup.push(() => server.stop());
  const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [variant] });
  const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
    channel_id: string;
    playlist_url: string;
  };
  const publisher = await startReplayPublisher(`${server.url.replace('http', 'ws')}/signaling`, channelId);
  const publishedAt = performance.now();
  cleanup.push(() => publisher.close());
  const hlsUrl = new URL(playlistUrl).origin;
  const playlistPath = await livePlaylist(hlsUrl, playlistUrl);
  const nginx = await startNginx();
  cleanup.push(() => nginx.stop());
  const serverPid = server.child.pid ?? 0;
  const nginxPids = nginx.pids();
  const servers: Servers = {
    nagare: server,
    hlsUrl,
    nagareCpu: { pids: [serverPid], idleCores: await idleCoresOf([serverPid]) },
    nginx,
    nginxCpu: { pids: nginxPids, idleCores: await idleCoresOf(nginxPids) },
    playlistPath,
  };

  const probe: ServerProbe = {
    port: Number(new URL(hlsUrl).port),
    pid: serverPid,
    metrics: () => scrapeMetrics(server.url),
  };
  await holdBlockingRequests(probe, playlistPath, Math.min(warmUpRequests, waiting));
  const blocking = await holdBlockingRequests(probe, playlistPath, waiting);

  await sleep(settleMs);
  const runs: Record<Resource, Comparison[]> = { segment: [], part: [], playlist: [] };
  const wrkRuns: Record<Resource, Comparison[]> = { segment: [], part: [], playlist: [] };
  for (let round = 0; round < rounds; round += 1) {
    for (const resource of resources) runs[resource].push(await compare(servers, resource, 'autocannon'));
    for (const resource of resources) wrkRuns[resource].push(await compare(servers, resource, 'wrk'));
  }
  const comparisons = {
    segment: medianRound(runs.segment),
    part: medianRound(runs.part),
    playlist: medianRound(runs.playlist),
  };
  const wrkComparisons = {
    segment: medianRound(wrkRuns.segment),
    part: medianRound(wrkRuns.part),
    playlist: medianRound(wrkRuns.playlist),
  };
  const ingest = await scrapeMetrics(server.url);
  const channel: ChannelFigures = {
    seconds: Math.round((performance.now() - publishedAt) / 1000),
    rtpPacketsSent: publisher.sent,
    videoFramesIngested: ingest.get('nagare_frames_total{kind="video"}') ?? null,
    videoPacketsLost: ingest.get('nagare_rtp_lost_packets_total{kind="video"}') ?? null,
    audioPacketsLost: ingest.get('nagare_rtp_lost_packets_total{kind="audio"}') ?? null,
  };
  const figures = {
    served:
      'one live channel of the real CLI: testdata/rtp/h264-opus.jsonl replayed over WebRTC by a werift publisher, ' +
      'one 640x480@30 1 Mbps variant, 2 s segments, 0.2 s parts',
    connections,
    seconds,
    rounds,
    hlsWorkers,
    nginx: { version: nginxVersion(), workerProcesses: 'auto' },
    load: comparisons,
    loadWrk: wrkComparisons,
    blocking,
    channel,
  };
  print(comparisons, wrkComparisons, blocking, channel);
  console.log(`\nwritten: ${writeResults('origin', figures, { programs: { nginx: ['-v'] } })}`);
} finally {
  for (const step of cleanup.reverse())
    await step().catch((error: unknown) => {
      console.error('cleanup:', error);
    });
}
