/**
 * Serves a playlist's HLS: the multivariant playlist, LL-HLS media playlists with blocking reload and delta updates
 * (RFC 8216bis §6.2.5), init segments, segments and parts (a request for the next part waits for it, as its
 * preload hint invites), and their MPEG-TS twins. Playlists are cached briefly, media for a year (their URIs never
 * repeat: each run of a playlist has its own). CORS is open so players on any origin can play. An ended playlist
 * stays readable, with EXT-X-ENDLIST, for a minute. Unknown paths, playlists not yet live or long gone, and one
 * that ended before it had anything answer the same 404.
 */
import type { AnswerHeaders, HttpExchange } from '../http/http-exchange.ts';
import type { HlsStream } from '../media/hls-output.ts';
import type { VariantPackager } from '../hls/variant-packager.ts';
import { parseBlockingQuery, parseHlsPath, type BlockingQuery, type HlsResource } from './hls-request.ts';
import { PlaylistRuleError } from '../hls/format/playlist.ts';
import { renderMediaFor, renderMultivariantFor, renderTsMediaFor } from './playlists.ts';
import { TsSegments } from './ts-segments.ts';
import { waitFor } from './wait-for.ts';

export interface HlsOriginDeps {
  /** The playlist with this id, if it is live (or ended a short while ago). */
  streamFor(playlistId: string): HlsStream | undefined;
  /** Requests in progress at once; past it, 503 with Retry-After. Default: no limit. */
  maxRequests?: number;
}

/**
 * The headers of each kind of answer, made once: the HLS port's server writes a headers object it has seen before
 * from its own rendering of it. Playlists are cached briefly, media for a year (their URIs never repeat).
 */
const answerHeaders = (type: string, cache: string): AnswerHeaders =>
  Object.freeze({ 'Content-Type': type, 'Cache-Control': cache, 'Access-Control-Allow-Origin': '*' });
const playlistHeaders = answerHeaders('application/vnd.apple.mpegurl', 'public, max-age=1');
const mediaHeaders = answerHeaders('video/mp4', 'public, max-age=31536000, immutable');
const tsHeaders = answerHeaders('video/mp2t', 'public, max-age=31536000, immutable');
const errorHeaders = answerHeaders('application/json; charset=utf-8', 'no-store');

const preflightHeaders: AnswerHeaders = Object.freeze({
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Max-Age': '86400',
});

/** A media playlist asked for without a query: most requests of players that do not block. */
const plainReload: BlockingQuery = Object.freeze({ skip: false });

/** Errors in the API's JSON shape, like every other error of the server. */
function sendError(
  exchange: HttpExchange,
  status: number,
  code: string,
  message: string,
  extra?: Readonly<Record<string, string>>,
): void {
  const body = `${JSON.stringify({ error: { code, message } })}\n`;
  exchange.answer(status, extra === undefined ? errorHeaders : { ...errorHeaders, ...extra }, body);
}

function notFound(exchange: HttpExchange): void {
  sendError(exchange, 404, 'NotFound', 'not found');
}

function badRequest(exchange: HttpExchange, reason: string): void {
  sendError(exchange, 400, 'InvalidParameter', reason);
}

function unavailable(exchange: HttpExchange, reason: string, extra?: Readonly<Record<string, string>>): void {
  sendError(exchange, 503, 'Unavailable', reason, extra);
}

/** What an origin has answered since it started; counters only grow. */
export interface OriginCounters {
  requests: Readonly<Record<HlsResource['type'], number>>;
  bytes: number;
  refused: number;
  ruleViolations: number;
  lastRuleViolation: string | undefined;
}

/** OriginCounters as their owner keeps them, to count in. */
type CountersRecord = Omit<OriginCounters, 'requests'> & { requests: Record<HlsResource['type'], number> };

export const emptyCounters = (): CountersRecord => ({
  requests: { multivariant: 0, media: 0, init: 0, segment: 0, part: 0, 'ts-media': 0, 'ts-segment': 0 },
  bytes: 0,
  refused: 0,
  ruleViolations: 0,
  lastRuleViolation: undefined,
});

/** The sum of two origins' counters; the last rule violation of `b` if it has one. */
export function addCounters(a: OriginCounters, b: OriginCounters): OriginCounters {
  const requests = { ...a.requests };
  for (const [type, count] of Object.entries(b.requests) as [HlsResource['type'], number][])
    requests[type] += count;
  return {
    requests,
    bytes: a.bytes + b.bytes,
    refused: a.refused + b.refused,
    ruleViolations: a.ruleViolations + b.ruleViolations,
    lastRuleViolation: b.lastRuleViolation ?? a.lastRuleViolation,
  };
}

export class HlsOrigin {
  readonly #deps: HlsOriginDeps;
  /** Requests waiting on a playlist or part right now. */
  #waiting = 0;
  /**
   * Answered requests by resource, bytes of media and playlists served, requests refused because `maxRequests`
   * were in progress, media playlists that broke a rule of RFC 8216bis and were served anyway (see
   * #checkedOrNot) and the last rule broken: for /metrics.
   */
  readonly #counters: CountersRecord = emptyCounters();
  readonly #ts = new TsSegments();
  /**
   * Media playlists as last rendered, per stream and kind, with the packagers' revisions they were rendered at: a
   * playlist changes only when a part comes, so the thousands of requests between two parts (every viewer's
   * blocking reload answered at once) share one rendering.
   */
  readonly #rendered = new WeakMap<HlsStream, Map<string, { revisions: number[]; bytes: Buffer }>>();

  constructor(deps: HlsOriginDeps) {
    this.#deps = deps;
  }

  get waitingRequests(): number {
    return this.#waiting;
  }

  counters(): OriginCounters {
    return { ...this.#counters, requests: { ...this.#counters.requests } };
  }

  /** Handles GET/HEAD/OPTIONS under /hls/; false when the path is not an HLS path. */
  async handle(exchange: HttpExchange): Promise<boolean> {
    const { method, path } = exchange;
    if (!path.startsWith('/hls/')) return false;
    if (method === 'OPTIONS') {
      exchange.answer(204, preflightHeaders, '');
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(exchange, 405, 'MethodNotAllowed', `${method} is not allowed here; use GET`, {
        Allow: 'GET, HEAD, OPTIONS',
      });
      return true;
    }
    if (this.#waiting >= (this.#deps.maxRequests ?? Infinity)) {
      this.#counters.refused += 1;
      unavailable(exchange, 'too many HLS requests in progress; retry', { 'Retry-After': '1' });
      return true;
    }
    const resource = parseHlsPath(path);
    const stream = resource === undefined ? undefined : this.#deps.streamFor(resource.playlistId);
    if (resource === undefined || stream === undefined) {
      notFound(exchange);
      return true;
    }
    this.#waiting += 1;
    try {
      await this.#serve(resource, stream, exchange);
    } finally {
      this.#waiting -= 1;
    }
    // A client gone before its answer got none: only answers count.
    if (!exchange.answered) return true;
    this.#counters.requests[resource.type] += 1;
    if (exchange.status !== 200 || method !== 'GET') return true;
    this.#counters.bytes += exchange.bodyLength;
    stream.audience.served(exchange.bodyLength, exchange.viewer);
    return true;
  }

  async #serve(resource: HlsResource, stream: HlsStream, exchange: HttpExchange): Promise<void> {
    if (resource.type === 'multivariant') {
      await this.#multivariant(stream, resource.ts ? 'ts' : 'fmp4', exchange);
      return;
    }
    const packager = resource.run === stream.runId ? stream.packagers[resource.variant] : undefined;
    if (packager === undefined) {
      notFound(exchange);
      return;
    }
    switch (resource.type) {
      case 'media':
        await this.#media(stream, resource.variant, packager, exchange);
        return;
      case 'init': {
        const bytes = packager.init(resource.initId);
        if (bytes === undefined) notFound(exchange);
        else exchange.answer(200, mediaHeaders, bytes);
        return;
      }
      case 'segment':
        await this.#segment(packager, resource.msn, 'fmp4', exchange);
        return;
      case 'part':
        await this.#part(packager, resource.msn, resource.part, exchange);
        return;
      case 'ts-media':
        await this.#tsMedia(stream, resource.variant, packager, exchange);
        return;
      case 'ts-segment':
        await this.#segment(packager, resource.msn, 'ts', exchange);
        return;
    }
  }

  /**
   * Waits (a few seconds) for every variant's first complete segment: the CODECS are known then, and a player
   * can start on what the media playlists list.
   */
  async #multivariant(stream: HlsStream, format: 'fmp4' | 'ts', exchange: HttpExchange): Promise<void> {
    for (const packager of stream.packagers) {
      const result = await waitFor(packager, () => packager.playable, 10_000, exchange);
      if (result === 'aborted') return;
      if (result === 'timeout') {
        unavailable(exchange, 'stream starting, retry');
        return;
      }
      if (!packager.playable) {
        notFound(exchange);
        return;
      }
    }
    const playlist = this.#cached(stream, `multivariant/${format}`, () =>
      renderMultivariantFor(stream, format),
    );
    exchange.answer(200, playlistHeaders, playlist);
  }

  async #media(
    stream: HlsStream,
    index: number,
    packager: VariantPackager,
    exchange: HttpExchange,
  ): Promise<void> {
    const query =
      exchange.query === '' ? plainReload : parseBlockingQuery(new URLSearchParams(exchange.query));
    if (typeof query === 'string') {
      badRequest(exchange, query);
      return;
    }
    const timeoutMs = 3 * packager.targetDurationSeconds * 1000;
    if (query.msn !== undefined) {
      const last = packager.lastPart?.[0] ?? -1;
      // RFC 8216bis §6.2.5.2: more than two segments ahead of the last one is a client error.
      if (query.msn > last + 2) {
        badRequest(exchange, `_HLS_msn ${query.msn} is too far ahead of the live edge (${last})`);
        return;
      }
      const { msn, part } = query;
      const result = await waitFor(packager, () => hasReached(packager, msn, part), timeoutMs, exchange);
      if (result === 'aborted') return;
      if (result === 'timeout') {
        unavailable(exchange, 'blocking request timed out');
        return;
      }
    } else if (!packager.playable) {
      const result = await waitFor(packager, () => packager.playable, timeoutMs, exchange);
      if (result !== 'ready') {
        if (result === 'timeout') unavailable(exchange, 'stream starting, retry');
        return;
      }
    }
    // Ended before its first part: there is nothing to list.
    if (!packager.playable) {
      notFound(exchange);
      return;
    }
    const playlist = this.#cached(stream, `${index}/${query.skip}`, () =>
      this.#checkedOrNot((validate) => renderMediaFor(stream, index, query.skip, validate)),
    );
    exchange.answer(200, playlistHeaders, playlist);
  }

  /**
   * `render()` as UTF-8 bytes, or what it gave last time if no packager of the stream has changed since (encoded
   * once: turning the text into bytes for each answer was the origin's largest cost under load).
   */
  #cached(stream: HlsStream, key: string, render: () => string): Buffer {
    let byKey = this.#rendered.get(stream);
    if (byKey === undefined) {
      byKey = new Map();
      this.#rendered.set(stream, byKey);
    }
    const { packagers } = stream;
    const last = byKey.get(key);
    if (last !== undefined && packagers.every((packager, i) => packager.revision === last.revisions[i]))
      return last.bytes;
    const bytes = Buffer.from(render());
    byKey.set(key, { revisions: packagers.map((packager) => packager.revision), bytes });
    return bytes;
  }

  /**
   * A media playlist checked against RFC 8216bis; one that breaks a rule (a part longer than its target after the
   * encoder stalled, say) is counted and served unchecked: every viewer of the channel getting an error for as long
   * as the part stays in the window would be worse.
   */
  #checkedOrNot(render: (validate: boolean) => string): string {
    try {
      return render(true);
    } catch (err) {
      if (!(err instanceof PlaylistRuleError)) throw err;
      this.#counters.ruleViolations += 1;
      this.#counters.lastRuleViolation = err.message;
      return render(false);
    }
  }

  /**
   * A segment, as CMAF or remuxed to MPEG-TS. A request for the segment being made waits (a few target durations)
   * for it to complete; anything else not in the window is 404.
   */
  async #segment(
    packager: VariantPackager,
    msn: number,
    format: 'fmp4' | 'ts',
    exchange: HttpExchange,
  ): Promise<void> {
    const open = packager.segments.at(-1);
    if (open !== undefined && open.msn === msn && !open.complete) {
      const result = await waitFor(
        packager,
        () => packager.segment(msn)?.complete === true,
        3 * packager.targetDurationSeconds * 1000,
        exchange,
      );
      if (result === 'aborted') return;
    }
    const segment = packager.segment(msn);
    const cmaf = segment?.bytes;
    if (cmaf === undefined) {
      notFound(exchange);
      return;
    }
    if (format === 'fmp4') {
      exchange.answer(200, mediaHeaders, cmaf);
      return;
    }
    const init = segment === undefined ? undefined : packager.init(segment.initId);
    const ts = init === undefined ? undefined : this.#ts.get(init, cmaf);
    if (ts === undefined) notFound(exchange);
    else exchange.answer(200, tsHeaders, ts);
  }

  /** The MPEG-TS playlist: complete segments only, so it waits (a few target durations) for the first. */
  async #tsMedia(
    stream: HlsStream,
    index: number,
    packager: VariantPackager,
    exchange: HttpExchange,
  ): Promise<void> {
    const hasSegment = (): boolean => packager.segments.some((segment) => segment.complete);
    const result = await waitFor(packager, hasSegment, 3 * packager.targetDurationSeconds * 1000, exchange);
    if (result === 'aborted') return;
    if (!hasSegment()) {
      if (packager.ended) notFound(exchange);
      else unavailable(exchange, 'stream starting, retry');
      return;
    }
    const playlist = this.#cached(stream, `${index}/ts`, () =>
      this.#checkedOrNot((validate) => renderTsMediaFor(stream, index, validate)),
    );
    exchange.answer(200, playlistHeaders, playlist);
  }

  async #part(packager: VariantPackager, msn: number, part: number, exchange: HttpExchange): Promise<void> {
    const next = packager.nextPart;
    const last = packager.lastPart;
    // The hinted part, or the one that would follow in the same segment: wait for it (or for the stream to move
    // past where it would be, when the encoder cut the segment elsewhere).
    const isNext =
      next !== undefined &&
      ((msn === next[0] && part === next[1]) ||
        (last !== undefined && msn === last[0] && part === last[1] + 1));
    if (isNext) {
      const result = await waitFor(
        packager,
        () => findPart(packager, msn, part) !== undefined || (packager.lastPart?.[0] ?? -1) > msn,
        3 * packager.targetDurationSeconds * 1000,
        exchange,
      );
      if (result === 'aborted') return;
    }
    const bytes = findPart(packager, msn, part);
    if (bytes === undefined) notFound(exchange);
    else exchange.answer(200, mediaHeaders, bytes);
  }
}

/** Whether the playlist now holds segment `msn` (complete) or, with `part`, that part of it. */
function hasReached(packager: VariantPackager, msn: number, part: number | undefined): boolean {
  const last = packager.lastPart;
  if (last === undefined) return false;
  const [lastMsn, lastPart] = last;
  if (lastMsn > msn) return true;
  if (lastMsn < msn) return false;
  if (part === undefined) return packager.segment(msn)?.complete === true;
  return lastPart >= part;
}

function findPart(packager: VariantPackager, msn: number, part: number): Uint8Array | undefined {
  return packager.segment(msn)?.parts[part]?.bytes;
}
