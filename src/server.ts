/**
 * NagareServer: the whole server in one object. It owns the store, the channel registry and the HTTP
 * server (API, health, later signaling and HLS), starts them in order and closes them in reverse.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ApiHandler } from './api/api-handler.ts';
import { TokenAuthenticator } from './api/token-authenticator.ts';
import { loadOrCreateToken, type StoredToken } from './api/token-file.ts';
import { Admission } from './channel/admission.ts';
import { ChannelRegistry } from './channel/channel-registry.ts';
import { EventWebhook, soraEnvelope } from './channel/event-webhook.ts';
import type { Config } from './config.ts';
import { NagareError, toHttpError } from './errors.ts';
import { requestPath } from './http/request-path.ts';
import { nodeExchange } from './http/http-exchange.ts';
import { sendJson } from './http/respond.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IngestManager } from './ingest/ingest-manager.ts';
import { MediaManager } from './media/media-manager.ts';
import { mediaOptionsOf } from './media/hls-output.ts';
import { WebPages } from './http/web-pages.ts';
import { createHttpServer } from './http/http-server.ts';
import { createMetrics, type OriginFigures } from './http/metrics.ts';
import type { Registry } from 'prom-client';
import { addCounters, HlsOrigin } from './origin/hls-origin.ts';
import { HlsWorkers } from './origin/hls-workers.ts';
import { Sfu } from './sfu/sfu.ts';
import { closeCodes } from './signaling/close-codes.ts';
import { SignalingServer } from './signaling/signaling-server.ts';
import type { SignalingOptions } from './signaling/signaling-session.ts';
import { ChannelStore } from './store/channel-store.ts';
import { RequestIds } from './lib/request-ids.ts';
import { version } from './version.ts';

export class StartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StartError';
  }
}

export interface NagareServerOptions {
  /** Delay before a 401 answer; slows token guessing. */
  authFailureDelayMs?: number;
  /** How long close() lets open requests finish before cutting them. */
  closeGraceMs?: number;
  /** Signaling timings and limits (Sora's defaults: ping every 5 s, drop after 60 s without pong). */
  signaling?: Partial<Omit<SignalingOptions, 'iceServers'>>;
}

const defaultSignalingOptions: Omit<SignalingOptions, 'iceServers'> = {
  connectTimeoutMs: 10_000,
  answerTimeoutMs: 30_000,
  pingIntervalMs: 5_000,
  pongTimeoutMs: 60_000,
  authWebhookTimeoutMs: 5_000,
  messagesPerSecond: 50,
  messageBurst: 200,
};

const apiBodyLimitBytes = 64 * 1024;

export class NagareServer {
  readonly #config: Readonly<Config>;
  readonly #log: Logger;
  readonly #options: Required<Omit<NagareServerOptions, 'signaling'>>;
  readonly #signalingOptions: Omit<SignalingOptions, 'iceServers'>;
  #sfu: Sfu | undefined;
  #ingest: IngestManager | undefined;
  readonly #web = new WebPages();
  readonly #requestIds = new RequestIds();
  #metrics: { registry: Registry; authenticator: TokenAuthenticator } | undefined;
  #media: MediaManager | undefined;
  #signaling: SignalingServer | undefined;
  #store: ChannelStore | undefined;
  #http: Server | undefined;
  #hlsWorkers: HlsWorkers | undefined;
  #registry: ChannelRegistry | undefined;
  #generatedToken: StoredToken | undefined;
  #closing: Promise<void> | undefined;
  #resolveClosed: (reason: string) => void = () => undefined;
  readonly closed: Promise<string>;

  constructor(config: Readonly<Config>, log: Logger, options: NagareServerOptions = {}) {
    this.#config = config;
    this.#log = log;
    const { signaling, ...rest } = options;
    this.#options = { authFailureDelayMs: 200, closeGraceMs: 2000, ...rest };
    this.#signalingOptions = { ...defaultSignalingOptions, ...signaling };
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    const address = this.#http?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new Error('server is not listening');
    }
    return address.port;
  }

  /** The port the HLS workers listen on (`--hls-port`), if HLS has a port of its own. */
  get hlsPort(): number | undefined {
    return this.#hlsWorkers?.port;
  }

  /** The token generated into the data dir, when none was configured. */
  get generatedToken(): StoredToken | undefined {
    return this.#generatedToken;
  }

  get registry(): ChannelRegistry {
    if (this.#registry === undefined) throw new Error('server is not started');
    return this.#registry;
  }

  async start(): Promise<void> {
    const config = this.#config;
    await checkFfmpeg(config.ffmpegPath);
    const store = new ChannelStore(config.dataDir);
    try {
      store.open();
    } catch (err) {
      throw new StartError(
        `cannot open the channel database in ${config.dataDir}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.#store = store;

    let tokens = config.apiTokens;
    if (tokens.length === 0) {
      this.#generatedToken = loadOrCreateToken(config.dataDir);
      tokens = [this.#generatedToken.token];
    }
    const registry = new ChannelRegistry(store);
    this.#registry = registry;
    const ingest = new IngestManager(this.#log.child({ component: 'ingest' }), config.recordIngestDir);
    this.#ingest = ingest;
    const allowPrivateWebhooks = config.webhookPrivateAddresses === 'allow';
    const events = new EventWebhook(
      this.#log.child({ component: 'event-webhook' }),
      5000,
      allowPrivateWebhooks,
    );
    const sfu = new Sfu(
      {
        additionalHostAddresses: config.iceHostAddresses,
        udpPortRange: config.udpPortRange,
        gatherTimeoutMs: 3000,
      },
      {
        onLiveChanged: (channelId, live) => {
          registry.setLive(channelId, live);
        },
        onUpstreamTrack: (channelId, track) => {
          ingest.addTrack(channelId, track);
        },
        onConnectionEvent: (channelId, event) => {
          const url = registry.find(channelId)?.record.spec.eventWebhookUrl;
          if (url !== undefined) void events.post(url, soraEnvelope(event));
        },
      },
      this.#log.child({ component: 'sfu' }),
    );
    this.#sfu = sfu;
    const media = new MediaManager(
      registry,
      ingest,
      { ...mediaOptionsOf(config), idleTimeoutMs: config.idleTimeoutSeconds * 1000 },
      this.#log.child({ component: 'media' }),
      events,
    );
    this.#media = media;
    media.start();
    const origin = new HlsOrigin({
      streamFor: (playlistId) => media.outputForPlaylist(playlistId),
      maxRequests: config.maxHlsRequests,
    });
    const hlsWorkers =
      config.hlsPort === undefined
        ? undefined
        : new HlsWorkers(
            {
              host: config.host,
              port: config.hlsPort,
              workers: config.hlsWorkers,
              maxRequests: config.maxHlsRequests,
            },
            this.#log.child({ component: 'hls-workers' }),
          );
    this.#hlsWorkers = hlsWorkers;
    if (hlsWorkers !== undefined) {
      media.onPlaylists({
        added: (output) => {
          hlsWorkers.add(output);
        },
        removed: (output) => {
          hlsWorkers.remove(output);
        },
      });
      await hlsWorkers.start().catch(async (err: unknown) => {
        await this.close('start-failed');
        throw new StartError(
          `cannot serve HLS on ${config.host}:${config.hlsPort}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      });
    }
    const originFigures: OriginFigures = {
      counters: () =>
        hlsWorkers === undefined ? origin.counters() : addCounters(origin.counters(), hlsWorkers.counters()),
      get waitingRequests() {
        return origin.waitingRequests + (hlsWorkers?.waitingRequests ?? 0);
      },
      get workerRestarts() {
        return hlsWorkers?.restarts ?? 0;
      },
      get workersHeapUsedBytes() {
        return hlsWorkers?.heapUsedBytes ?? 0;
      },
    };
    registry.onDeleted((record) => {
      sfu.disconnectChannel(record.channelId, closeCodes.normal, 'CHANNEL-DELETED');
      void media
        .endChannel(record.channelId, 'channel deleted')
        .then(() => ingest.closeChannel(record.channelId));
    });
    const admission = new Admission(
      {
        maxChannels: config.maxChannels,
        maxConnectionsPerChannel: config.maxConnectionsPerChannel,
        maxPublishersPerChannel: config.maxPublishersPerChannel,
        transcodeBudget: config.transcodeBudgetMegapixels * 1_000_000,
      },
      {
        activeChannels: () => registry.countActive(),
        encodingCost: () => media.encodingCost(),
        compositeRunning: (channelId) => media.compositeRunning(channelId),
      },
    );
    const signaling = new SignalingServer({
      registry,
      sfu,
      admission,
      allowedOrigins: config.signalingOrigins,
      log: this.#log.child({ component: 'signaling' }),
      options: { ...this.#signalingOptions, iceServers: config.iceServers, allowPrivateWebhooks },
    });
    this.#signaling = signaling;
    const authenticator = new TokenAuthenticator(tokens);
    const metrics = createMetrics({ registry, sfu, ingest, media, origin: originFigures, signaling, events });
    this.#metrics = { registry: metrics, authenticator };
    const api = new ApiHandler({
      registry,
      sfu,
      media,
      admission,
      authenticator,
      log: this.#log.child({ component: 'api' }),
      options: {
        publicUrl: config.publicUrl,
        fallbackHost: `localhost:${config.port}`,
        hlsListener: () =>
          hlsWorkers === undefined ? undefined : { port: hlsWorkers.port, publicUrl: config.hlsPublicUrl },
        bodyLimitBytes: apiBodyLimitBytes,
        authFailureDelayMs: this.#options.authFailureDelayMs,
        requestsPerSecond: config.apiRequestsPerSecond,
      },
    });

    const http = createHttpServer();
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.#route(req, res, api, origin);
    });
    http.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
      signaling.handleUpgrade(req, socket, head);
    });
    this.#http = http;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new StartError(`cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`, {
            cause: err,
          }),
        );
      };
      http.once('error', onError);
      http.listen(config.port, config.host, () => {
        http.off('error', onError);
        resolve();
      });
    }).catch(async (err: unknown) => {
      await this.close('start-failed');
      throw err;
    });
    this.#log.info(
      { port: this.port, hlsPort: hlsWorkers?.port, host: config.host, dataDir: config.dataDir, version },
      'listening',
    );
  }

  async #route(req: IncomingMessage, res: ServerResponse, api: ApiHandler, origin: HlsOrigin): Promise<void> {
    const requestId = this.#requestIds.next();
    try {
      const path = requestPath(req);
      // HLS answers go without the request id: a header set ahead of writeHead() takes Node's slow path, and
      // viewers' requests are the most frequent by far (their errors carry no request id either).
      if (await origin.handle(nodeExchange(req, res))) return;
      res.setHeader('X-Request-Id', requestId);
      // A browser asking for a page: anything but an API call (which names its action).
      const browsing = req.headers['x-sora-target'] === undefined;
      if (browsing && (await this.#web.handle(req.method, path, res))) return;
      if (path === '/') {
        await api.handle(req, res, requestId);
      } else if (path === '/metrics') {
        await this.#serveMetrics(req, res);
      } else if (path === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          throw new NagareError(
            'MethodNotAllowed',
            `${req.method ?? 'this method'} is not allowed here; use GET`,
          );
        }
        sendJson(res, 200, { ok: true, version });
      } else {
        throw new NagareError('NotFound', 'not found');
      }
    } catch (err) {
      const { status, body, cause } = toHttpError(err, requestId);
      if (cause !== undefined) this.#log.error({ err: cause, requestId, url: req.url }, 'request failed');
      if (res.headersSent) res.destroy();
      else sendJson(res, status, body, status === 405 ? { Allow: 'GET, HEAD' } : {});
    }
  }

  /** Prometheus exposition, for a scraper holding an API token. */
  async #serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new NagareError(
        'MethodNotAllowed',
        `${req.method ?? 'this method'} is not allowed here; use GET`,
      );
    }
    const metrics = this.#metrics;
    if (metrics === undefined) throw new NagareError('Unavailable', 'the server is starting');
    if (metrics.authenticator.authenticate(req.headers.authorization) === undefined) {
      throw new NagareError('Unauthorized', 'a valid Bearer token is required');
    }
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** Stops serving and releases everything. Idempotent; resolves when all is released. */
  close(reason = 'closed'): Promise<void> {
    this.#closing ??= this.#closeInner(reason);
    return this.#closing;
  }

  get sfu(): Sfu {
    if (this.#sfu === undefined) throw new Error('server is not started');
    return this.#sfu;
  }

  get media(): MediaManager {
    if (this.#media === undefined) throw new Error('server is not started');
    return this.#media;
  }

  get ingest(): IngestManager {
    if (this.#ingest === undefined) throw new Error('server is not started');
    return this.#ingest;
  }

  get signaling(): SignalingServer {
    if (this.#signaling === undefined) throw new Error('server is not started');
    return this.#signaling;
  }

  async #closeInner(reason: string): Promise<void> {
    await this.#signaling?.close('SHUTDOWN');
    await this.#sfu?.close(closeCodes.normal, 'SHUTDOWN');
    await this.#media?.close();
    await this.#ingest?.close();
    await this.#hlsWorkers?.close();
    const http = this.#http;
    if (http?.listening === true) {
      const done = new Promise<void>((resolve) =>
        http.close(() => {
          resolve();
        }),
      );
      http.closeIdleConnections();
      const cut = setTimeout(() => {
        http.closeAllConnections();
      }, this.#options.closeGraceMs);
      await done;
      clearTimeout(cut);
    }
    this.#store?.close();
    this.#log.info({ reason }, 'closed');
    this.#resolveClosed(reason);
  }
}

/** Fails the start with a clear message when ffmpeg cannot be run. */
async function checkFfmpeg(path: string): Promise<void> {
  try {
    await promisify(execFile)(path, ['-hide_banner', '-version'], { timeout: 10_000 });
  } catch (err) {
    // execFile's error: `code` is the exit code, or a system error's name (ENOENT); `signal` when it was killed.
    const failure = err as { code?: number | string; signal?: string | null; stderr?: string };
    const exit = failure.signal ?? (typeof failure.code === 'number' ? `exit ${failure.code}` : failure.code);
    const said = failure.stderr?.trim().split('\n').at(-1);
    const why =
      failure.code === 'ENOENT'
        ? 'not found'
        : `${exit ?? 'failed'}${said === undefined || said === '' ? '' : ` (${said})`}`;
    throw new StartError(
      `ffmpeg (${path}) cannot be run: ${why}. Install it (Debian: apt-get install -y ffmpeg) or set --ffmpeg`,
    );
  }
}
