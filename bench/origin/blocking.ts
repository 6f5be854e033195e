/**
 * LL-HLS blocking playlist requests held open by the thousand (RFC 8216bis §6.2.5.2). Each is a raw TCP
 * connection carrying one `GET <playlist>?_HLS_msn=M&_HLS_part=P` with `Connection: close` (no keep-alive, no
 * agent). All connect first; right after a new part appears, every request is written at once, naming the part
 * `aheadSeconds` of parts later, so the server holds them all before that part exists. Measured: the server's resident
 * memory and heap before, with the connections open, and with every request held; then the answers: the first
 * one marks the moment the part appeared, as near as a client sees it (the server answers its waiters as the part
 * is added), the last one when the server is done. Answers are timed here as they complete, so the spread also
 * holds this process reading them all, on the same cores. Every answer must be 200 and list the part.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../bench-util.ts';

/**
 * How far ahead of the newest part the held requests ask, in seconds of parts: 2 s for the server to read and
 * hold them all, well within its blocking timeout (3 target durations, 6 s).
 */
const aheadSeconds = 2;
/** Connections opened at once: more overflow the listen backlog and wait for SYN retries. */
const connectBatch = 250;
/** How often the server's count of held requests is read while they are being written. */
const heldPollMs = 100;
/** Longest wait for every answer after the requests are written. */
const answerTimeoutMs = 15_000;

export interface ServerProbe {
  readonly port: number;
  readonly pid: number;
  /** Values of the server's /metrics, by series (`name`, or `name{labels}`). */
  metrics(): Promise<ReadonlyMap<string, number>>;
}

export interface BlockingFigures {
  requests: number;
  /** Time to open every connection. */
  connectMs: number;
  /** From the last request written to the server holding every one, or null if the part came first. */
  allHeldAfterMs: number | null;
  target: string;
  memory: {
    rssBeforeMB: number;
    rssConnectedMB: number;
    rssHeldMB: number;
    heapBeforeMB: number;
    heapHeldMB: number;
    /** (RSS held − RSS before) / requests: connection, parser, request, response and waiter, all told. */
    rssPerRequestKB: number;
    heapPerRequestKB: number;
  };
  answers: { ok: number; statuses: Record<string, number>; withoutPart: number; unanswered: number };
  /** Every request answered 200 with the part listed. */
  verified: boolean;
  /** From the requests written to the first answer: about when the part appeared. */
  firstAnswerAfterWriteMs: number | null;
  /** First answer → last answer: the time to answer every waiter once the part exists. */
  firstToLastMs: number | null;
  /** Answers after the first, p50 and p99. */
  answerMs: { p50: number; p99: number } | null;
}

/** The soft limit on open files of this process (the server, its child, inherits the same). */
export function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 0);
}

/** Resident memory of a process (Linux /proc), bytes. */
function rssBytesOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

interface Held {
  readonly socket: Socket;
  chunks: Buffer[];
  status?: number;
  text?: string;
  answeredAt?: number;
}

/** Opens a connection, added to `into` at once so that a failure elsewhere still closes it. */
function openConnection(port: number, into: Held[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const held: Held = { socket, chunks: [] };
    into.push(held);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a reset is seen as an unanswered request
      resolve();
    });
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      held.chunks.push(chunk);
      readAnswer(held);
    });
  });
}

/** Marks the answer complete once its headers and Content-Length bytes of body have arrived. */
function readAnswer(held: Held): void {
  if (held.answeredAt !== undefined) return;
  const bytes = Buffer.concat(held.chunks);
  held.chunks = [bytes];
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return;
  const head = bytes.subarray(0, end).toString('latin1');
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
  if (bytes.length < end + 4 + length) return;
  held.status = Number(head.slice(9, 12));
  held.text = bytes.subarray(end + 4, end + 4 + length).toString('utf8');
  held.answeredAt = performance.now();
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`${path}: ${res.statusCode} ${text}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const partUri = /URI="(\d+)\.(\d+)\.m4s"/;

/** The newest listed part, the preload hint, and how many parts a complete segment has. */
function liveEdge(playlist: string): {
  newest: [number, number];
  hint: [number, number];
  partsPerSegment: number;
  partTargetSeconds: number;
} {
  let newest: [number, number] | undefined;
  let hint: [number, number] | undefined;
  let parts = 0;
  let partsPerSegment = 0;
  let partTargetSeconds = 0;
  for (const line of playlist.split('\n')) {
    const partInf = /^#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(line);
    if (partInf !== null) partTargetSeconds = Number(partInf[1]);
    const uri = partUri.exec(line);
    if (line.startsWith('#EXT-X-PART:') && uri !== null) {
      newest = [Number(uri[1]), Number(uri[2])];
      parts += 1;
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:') && uri !== null) {
      hint = [Number(uri[1]), Number(uri[2])];
    } else if (/^\d+\.m4s$/.test(line)) {
      if (parts > 0) partsPerSegment = parts;
      parts = 0;
    }
  }
  if (newest === undefined || hint === undefined || partsPerSegment === 0 || partTargetSeconds === 0) {
    throw new Error(
      `the playlist has no parts, hint, PART-TARGET or complete segment with parts:\n${playlist}`,
    );
  }
  return { newest, hint, partsPerSegment, partTargetSeconds };
}

const mb = (bytes: number): number => Number((bytes / 1e6).toFixed(1));

/** Holds `count` blocking playlist requests on `server` until a new part answers them all. */
export async function holdBlockingRequests(
  server: ServerProbe,
  playlistPath: string,
  count: number,
): Promise<BlockingFigures> {
  const before = await server.metrics();
  const rssBefore = rssBytesOf(server.pid);
  const connectStart = performance.now();
  const held: Held[] = [];
  try {
    while (held.length < count) {
      const batch = Math.min(connectBatch, count - held.length);
      await Promise.all(Array.from({ length: batch }, () => openConnection(server.port, held)));
    }
    const connectMs = performance.now() - connectStart;
    const rssConnected = rssBytesOf(server.pid);

    // Wait for a new part (a blocking request for the hinted one), then ask for the one `aheadSeconds` after it.
    const { hint } = liveEdge(await get(server.port, playlistPath));
    const { newest, partsPerSegment, partTargetSeconds } = liveEdge(
      await get(server.port, `${playlistPath}?_HLS_msn=${hint[0]}&_HLS_part=${hint[1]}`),
    );
    const index = newest[0] * partsPerSegment + newest[1] + Math.ceil(aheadSeconds / partTargetSeconds);
    const target = [Math.floor(index / partsPerSegment), index % partsPerSegment] as const;
    const blockingRequest =
      `GET ${playlistPath}?_HLS_msn=${target[0]}&_HLS_part=${target[1]} HTTP/1.1\r\n` +
      'Host: 127.0.0.1\r\nConnection: close\r\n\r\n';
    for (const { socket } of held) socket.write(blockingRequest);
    const writtenAt = performance.now();

    // Until the server holds them all (or the part came first), then its memory while it holds them.
    let allHeldAt: number | undefined;
    let heldMetrics = before;
    let rssHeld = rssConnected;
    for (;;) {
      heldMetrics = await server.metrics();
      rssHeld = rssBytesOf(server.pid);
      const waiting = heldMetrics.get('nagare_hls_waiting_requests') ?? 0;
      if (waiting >= count) allHeldAt = performance.now();
      if (allHeldAt !== undefined || held.some((h) => h.answeredAt !== undefined)) break;
      await sleep(heldPollMs);
    }

    const deadline = performance.now() + answerTimeoutMs;
    while (held.some((h) => h.answeredAt === undefined) && performance.now() < deadline) await sleep(20);

    const statuses: Record<string, number> = {};
    let withoutPart = 0;
    const listed = `URI="${target[0]}.${target[1]}.m4s"`;
    for (const h of held) {
      if (h.status === undefined) continue;
      statuses[h.status] = (statuses[h.status] ?? 0) + 1;
      const hasPart = h.text?.split('\n').some((l) => l.startsWith('#EXT-X-PART:') && l.includes(listed));
      if (h.status === 200 && hasPart !== true) withoutPart += 1;
    }
    const times = held.flatMap((h) => (h.answeredAt === undefined ? [] : [h.answeredAt]));
    const first = times.length === 0 ? undefined : Math.min(...times);
    const last = times.length === 0 ? undefined : Math.max(...times);
    // The main thread's heap and the HLS workers' (as of their last reports, twice a second).
    const heapOf = (metrics: ReadonlyMap<string, number>): number =>
      (metrics.get('nagare_nodejs_heap_size_used_bytes') ?? 0) +
      (metrics.get('nagare_hls_workers_heap_used_bytes') ?? 0);
    const heapBefore = heapOf(before);
    const heapHeld = heapOf(heldMetrics);
    return {
      requests: count,
      connectMs: Math.round(connectMs),
      allHeldAfterMs: allHeldAt === undefined ? null : Math.round(allHeldAt - writtenAt),
      target: `${target[0]}.${target[1]}`,
      memory: {
        rssBeforeMB: mb(rssBefore),
        rssConnectedMB: mb(rssConnected),
        rssHeldMB: mb(rssHeld),
        heapBeforeMB: mb(heapBefore),
        heapHeldMB: mb(heapHeld),
        rssPerRequestKB: Number(((rssHeld - rssBefore) / count / 1000).toFixed(1)),
        heapPerRequestKB: Number(((heapHeld - heapBefore) / count / 1000).toFixed(1)),
      },
      answers: {
        ok: statuses['200'] ?? 0,
        statuses,
        withoutPart,
        unanswered: count - times.length,
      },
      verified: statuses['200'] === count && withoutPart === 0,
      firstAnswerAfterWriteMs: first === undefined ? null : Math.round(first - writtenAt),
      firstToLastMs: first === undefined || last === undefined ? null : Math.round(last - first),
      answerMs:
        first === undefined
          ? null
          : {
              p50: Math.round(percentile(times, 50) - first),
              p99: Math.round(percentile(times, 99) - first),
            },
    };
  } finally {
    for (const { socket } of held) socket.destroy();
  }
}
