/**
 * HLS served from worker threads on a port of their own (`--hls-port`): viewers' requests then use every core,
 * and a crowd of them no longer delays the channels' media on the main thread (the mixer runs there, on a clock).
 *
 * Every worker listens on the same port (SO_REUSEPORT: the kernel spreads new connections over them) and serves
 * with its own HlsOrigin, from copies of the playlists' packagers: each playlist is sent as a snapshot when it
 * starts (or when a worker starts), then every operation applied to its packagers follows it (see
 * VariantPackager.onOp), in order, so the copies hold the same segments, numbers and bytes. What the workers count
 * (requests, bytes, viewers) comes back twice a second and is added to the main thread's figures.
 *
 * A worker that dies is started again after a pause, and given every playlist afresh; what it had counted is kept.
 */
import { createServer, type Server } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { HlsVariant } from '../channel/channel-spec.ts';
import type { PackagerOp, PackagerState, VariantPackager } from '../hls/variant-packager.ts';
import type { Audience } from '../lib/audience.ts';
import { RestartBackoff } from '../media/restart-backoff.ts';
import { addCounters, emptyCounters, type OriginCounters } from './hls-origin.ts';

/** A playlist as the pool needs it: what the workers serve, and where their figures go. */
export interface MirroredStream {
  readonly playlistId: string;
  readonly runId: string;
  readonly variants: readonly HlsVariant[];
  readonly packagers: readonly VariantPackager[];
  readonly audience: Audience;
}

export interface HlsWorkersOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  workers: number;
  /** Requests in progress at once over all workers (each gets its share); undefined: no limit. */
  maxRequests: number | undefined;
  /** How long a worker may take to close its connections before it is terminated. */
  closeTimeoutMs?: number;
}

/** Messages to a worker. */
export type ToWorker =
  | {
      type: 'open';
      playlistId: string;
      runId: string;
      variants: readonly HlsVariant[];
      packagers: PackagerState[];
    }
  | { type: 'op'; playlistId: string; variant: number; op: PackagerOp }
  | { type: 'remove'; playlistId: string }
  | { type: 'close' };

/** What a worker's viewers of one playlist did since its last report. */
export interface AudienceReport {
  playlistId: string;
  bytes: number;
  /** Viewer key, and when it was last seen (ms since 1970). */
  viewers: [string, number][];
}

/** Messages from a worker. */
export type FromWorker =
  | { type: 'listening' }
  | { type: 'listen-failed'; message: string }
  | {
      type: 'report';
      counters: OriginCounters;
      waiting: number;
      /** The worker's own V8 heap in use. */
      heapUsedBytes: number;
      audience: AudienceReport[];
    }
  | { type: 'request-failed'; requestId: string; url: string; error: string };

interface Slot {
  worker: Worker;
  counters: OriginCounters;
  waiting: number;
  heapUsedBytes: number;
}

const workerUrl = new URL('./hls-worker.ts', import.meta.url);
const restartDelaysMs = [1000, 2000, 5000, 10_000];

export class HlsWorkers {
  readonly #options: HlsWorkersOptions;
  readonly #log: Logger;
  readonly #streams = new Map<string, { stream: MirroredStream; offOps: (() => void)[] }>();
  readonly #slots: (Slot | undefined)[];
  readonly #backoff = new RestartBackoff(restartDelaysMs);
  /** Counted by workers that have since exited. */
  #retired = emptyCounters();
  #port = 0;
  #restarts = 0;
  #closed = false;

  constructor(options: HlsWorkersOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    this.#slots = Array.from({ length: options.workers }, () => undefined);
  }

  /** The port the workers listen on. */
  get port(): number {
    return this.#port;
  }

  /** Workers started again after one died. */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Takes the port (a socket of the main thread holds it, with SO_REUSEPORT, until every worker listens on it too,
   * so that port 0 means one port for all) and starts the workers; rejects when the port or a worker fails.
   */
  async start(): Promise<void> {
    const reservation = createServer();
    await listen(reservation, this.#options.host, this.#options.port);
    const address = reservation.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : this.#options.port;
    try {
      await Promise.all(this.#slots.map((_, index) => this.#spawn(index)));
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      reservation.close();
    }
  }

  /**
   * The workers serve `stream` from now on, until `remove()`; in place of the playlist's former run, if it had one
   * (a channel live again after it ended).
   */
  add(stream: MirroredStream): void {
    if (this.#closed) return;
    for (const off of this.#streams.get(stream.playlistId)?.offOps ?? []) off();
    const offOps = stream.packagers.map((packager, variant) =>
      packager.onOp((op) => {
        this.#broadcast({ type: 'op', playlistId: stream.playlistId, variant, op: ownBytes(op) });
      }),
    );
    this.#streams.set(stream.playlistId, { stream, offOps });
    this.#broadcast(openMessage(stream));
  }

  /** The workers no longer serve `stream` (nor anything, if another run of its playlist has replaced it). */
  remove(stream: MirroredStream): void {
    const { playlistId } = stream;
    const entry = this.#streams.get(playlistId);
    if (entry?.stream !== stream) return;
    for (const off of entry.offOps) off();
    this.#streams.delete(playlistId);
    this.#broadcast({ type: 'remove', playlistId });
  }

  /** What every worker has answered, in the shape of HlsOrigin.counters(). */
  counters(): OriginCounters {
    let total = this.#retired;
    for (const slot of this.#slots) if (slot !== undefined) total = addCounters(total, slot.counters);
    return total;
  }

  /** Requests waiting in the workers, as of their last reports. */
  get waitingRequests(): number {
    let waiting = 0;
    for (const slot of this.#slots) waiting += slot?.waiting ?? 0;
    return waiting;
  }

  /** Ends worker `index` as a crash would (supervision tests). */
  async terminateWorker(index: number): Promise<void> {
    await this.#slots[index]?.worker.terminate();
  }

  /** The workers' V8 heaps in use, as of their last reports (the main thread's is not among them). */
  get heapUsedBytes(): number {
    let bytes = 0;
    for (const slot of this.#slots) bytes += slot?.heapUsedBytes ?? 0;
    return bytes;
  }

  /** Closes every worker's connections and ends the workers. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const { offOps } of this.#streams.values()) for (const off of offOps) off();
    this.#streams.clear();
    const timeoutMs = this.#options.closeTimeoutMs ?? 2000;
    await Promise.all(
      this.#slots.map(async (slot, index) => {
        if (slot === undefined) return;
        this.#slots[index] = undefined;
        const exited = new Promise((resolve) => slot.worker.once('exit', resolve));
        slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
        const timer = setTimeout(() => void slot.worker.terminate(), timeoutMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  #broadcast(message: ToWorker): void {
    for (const slot of this.#slots) slot?.worker.postMessage(message);
  }

  /** Starts worker `index`; resolves once it listens. */
  #spawn(index: number): Promise<void> {
    const { host, maxRequests, workers } = this.#options;
    const worker = new Worker(workerUrl, {
      workerData: {
        host,
        port: this.#port,
        maxRequests: maxRequests === undefined ? undefined : Math.ceil(maxRequests / workers),
      },
    });
    const slot: Slot = { worker, counters: emptyCounters(), waiting: 0, heapUsedBytes: 0 };
    this.#slots[index] = slot;
    for (const { stream } of this.#streams.values()) worker.postMessage(openMessage(stream));
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'listening':
            listening = true;
            resolve();
            return;
          case 'listen-failed':
            reject(new Error(`HLS worker cannot listen on ${host}:${this.#port}: ${message.message}`));
            void worker.terminate();
            return;
          case 'report':
            this.#onReport(slot, message);
            return;
          case 'request-failed':
            this.#log.error(
              { requestId: message.requestId, url: message.url, err: message.error },
              'HLS request failed',
            );
            return;
        }
      });
      worker.on('error', (err: Error) => {
        this.#log.error({ err, worker: index }, 'HLS worker failed');
        if (!listening) reject(err);
      });
      worker.on('exit', (code) => {
        this.#retired = addCounters(this.#retired, slot.counters);
        slot.waiting = 0;
        if (this.#slots[index] !== slot) return;
        this.#slots[index] = undefined;
        if (!listening) {
          reject(new Error(`HLS worker exited (code ${code}) before it listened`));
          return;
        }
        if (this.#closed) return;
        const delayMs = this.#backoff.nextDelayMs();
        this.#log.error({ worker: index, code, delayMs }, 'HLS worker exited; starting it again');
        setTimeout(() => {
          if (this.#closed) return;
          this.#restarts += 1;
          this.#spawn(index).then(
            () => {
              this.#backoff.reset();
            },
            (err: unknown) => {
              this.#log.error({ err, worker: index }, 'HLS worker did not start again');
            },
          );
        }, delayMs).unref();
      });
    });
  }

  #onReport(slot: Slot, report: Extract<FromWorker, { type: 'report' }>): void {
    slot.counters = report.counters;
    slot.waiting = report.waiting;
    slot.heapUsedBytes = report.heapUsedBytes;
    for (const { playlistId, bytes, viewers } of report.audience) {
      this.#streams.get(playlistId)?.stream.audience.merge(bytes, viewers);
    }
  }
}

function openMessage(stream: MirroredStream): ToWorker {
  return {
    type: 'open',
    playlistId: stream.playlistId,
    runId: stream.runId,
    variants: stream.variants,
    packagers: stream.packagers.map((packager) => packager.snapshot()),
  };
}

/**
 * The operation with bytes of their own: postMessage copies a view's whole buffer, and the encoder's fragments
 * are views into larger reads.
 */
function ownBytes(op: PackagerOp): PackagerOp {
  if (op.kind !== 'init' && op.kind !== 'fragment') return op;
  const { bytes } = op;
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return op;
  return { ...op, bytes: bytes.slice() };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(err);
    };
    server.once('error', onError);
    server.listen({ host, port, reusePort: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
