/**
 * One HLS worker thread (see hls-workers.ts): an HTTP server (lean-http-server.ts) on the shared HLS port that
 * answers with an HlsOrigin over copies of the playlists, kept in step by the main thread's messages. Anything but
 * an HLS path is 404; a request that fails is answered 500 and reported to the main thread, which logs it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { HlsVariant } from '../channel/channel-spec.ts';
import { NagareError, toHttpError } from '../errors.ts';
import { VariantPackager } from '../hls/variant-packager.ts';
import { answerJson, type HttpExchange } from '../http/http-exchange.ts';
import { LeanHttpServer } from '../http/lean-http-server.ts';
import { RequestIds } from '../lib/request-ids.ts';
import type { HlsStream } from '../media/hls-output.ts';
import { HlsOrigin } from './hls-origin.ts';
import type { AudienceReport, FromWorker, ToWorker } from './hls-workers.ts';

const reportEveryMs = 500;
/** Viewers of one playlist kept between two reports; the main thread's count is bounded the same way. */
const maxViewersPerReport = 10_000;

/** A copy of a playlist, and what its viewers did since the last report. */
class StreamCopy implements HlsStream {
  readonly runId: string;
  readonly variants: readonly HlsVariant[];
  readonly packagers: VariantPackager[];
  #bytes = 0;
  readonly #viewers = new Map<string, number>();
  readonly audience = {
    served: (bytes: number, viewer: string): void => {
      this.#bytes += bytes;
      if (this.#viewers.size < maxViewersPerReport || this.#viewers.has(viewer))
        this.#viewers.set(viewer, Date.now());
    },
  };

  constructor(message: Extract<ToWorker, { type: 'open' }>) {
    this.runId = message.runId;
    this.variants = message.variants;
    this.packagers = message.packagers.map((state) => VariantPackager.restore(state));
  }

  /** What happened since the last call, or undefined when nothing did. */
  takeReport(playlistId: string): AudienceReport | undefined {
    if (this.#bytes === 0 && this.#viewers.size === 0) return undefined;
    const report = { playlistId, bytes: this.#bytes, viewers: [...this.#viewers] };
    this.#bytes = 0;
    this.#viewers.clear();
    return report;
  }
}

const port = parentPort;
if (port === null) throw new Error('hls-worker.ts runs as a worker thread');
const options = workerData as { host: string; port: number; maxRequests: number | undefined };
const post = (message: FromWorker): void => {
  port.postMessage(message);
};

const streams = new Map<string, StreamCopy>();
const requestIds = new RequestIds();
const origin = new HlsOrigin({
  streamFor: (playlistId) => streams.get(playlistId),
  ...(options.maxRequests === undefined ? {} : { maxRequests: options.maxRequests }),
});

function report(): void {
  const audience: AudienceReport[] = [];
  for (const [playlistId, stream] of streams) {
    const taken = stream.takeReport(playlistId);
    if (taken !== undefined) audience.push(taken);
  }
  post({
    type: 'report',
    counters: origin.counters(),
    waiting: origin.waitingRequests,
    heapUsedBytes: process.memoryUsage().heapUsed,
    audience,
  });
}

async function route(exchange: HttpExchange): Promise<void> {
  try {
    if (await origin.handle(exchange)) return;
    throw new NagareError('NotFound', 'not found');
  } catch (err) {
    // Only a failure gets a request id: the answers that go well are the hot path.
    const requestId = requestIds.next();
    const { status, body, cause } = toHttpError(err, requestId);
    if (cause !== undefined) {
      const error = cause instanceof Error ? (cause.stack ?? cause.message) : JSON.stringify(cause);
      const url = exchange.query === '' ? exchange.path : `${exchange.path}?${exchange.query}`;
      post({ type: 'request-failed', requestId, url, error });
    }
    answerJson(exchange, status, body);
  }
}

const http = new LeanHttpServer((exchange) => {
  void route(exchange);
});
const timer = setInterval(report, reportEveryMs);

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'open':
      streams.set(message.playlistId, new StreamCopy(message));
      return;
    case 'op':
      streams.get(message.playlistId)?.packagers[message.variant]?.apply(message.op);
      return;
    case 'remove':
      streams.delete(message.playlistId);
      return;
    case 'close':
      clearInterval(timer);
      report();
      http.close();
      port.close();
      return;
  }
});

http.server.once('error', (err: NodeJS.ErrnoException) => {
  post({ type: 'listen-failed', message: err.code ?? err.message });
});
http.listen({ host: options.host, port: options.port, reusePort: true }, () => {
  post({ type: 'listening' });
});
