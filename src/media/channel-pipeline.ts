/**
 * A channel's media from its publishers to HLS, for the channel's life: one decoder per publisher feed, one mixer
 * (output clock, slate), one encoder (all variants), one packager per variant. Publishers come and go; the
 * encoder and the playlists go on.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChannelRecord } from '../store/channel-store.ts';
import { Fmp4Splitter } from '../hls/format/fmp4-reader.ts';
import { VariantPackager } from '../hls/variant-packager.ts';
import type { IngestManager } from '../ingest/ingest-manager.ts';
import type { PublisherFeed } from '../ingest/publisher-feed.ts';
import { monotonicMs } from '../lib/clock.ts';
import { ChannelEncoder } from './channel-encoder.ts';
import type { Canvas } from './media-args.ts';
import { Mixer } from './mixer.ts';
import { PublisherDecoder } from './publisher-decoder.ts';

export interface MediaOptions {
  ffmpegPath: string;
  partSeconds: number;
  /** Mixer latency behind the channel clock (room for decoding), ms. */
  mixerLatencyMs: number;
  windowSegments: number;
  preset: string;
}

export const defaultMediaOptions: MediaOptions = {
  ffmpegPath: 'ffmpeg',
  partSeconds: 0.5,
  mixerLatencyMs: 250,
  windowSegments: 8,
  preset: 'veryfast',
};

/**
 * A variant's PART-TARGET. The encoder cuts a fragment once it holds `partSeconds`, at a frame boundary, so a part
 * lasts `partSeconds` rounded up to whole frames (0.5 s at 15 fps: 8 frames, 0.533 s), and RFC 8216bis §4.4.4.9
 * wants every part ≤ PART-TARGET.
 */
export function partTargetFor(partSeconds: number, fps: number): number {
  return Math.ceil(partSeconds * fps - 1e-9) / fps;
}

/** The canvas: the largest variant's size, the highest frame rate. */
export function canvasFor(record: ChannelRecord): Canvas {
  let width = 0;
  let height = 0;
  let fps = 0;
  for (const { video } of record.spec.hls) {
    if (video.width * video.height > width * height) {
      width = video.width;
      height = video.height;
    }
    fps = Math.max(fps, video.fps);
  }
  return { width, height, fps };
}

export class ChannelPipeline {
  readonly channelId: string;
  /** Part of every media URI, so caches never mix two runs of one channel. */
  readonly runId = randomBytes(4).toString('hex');
  readonly record: ChannelRecord;
  readonly packagers: readonly VariantPackager[];
  readonly #mixer: Mixer;
  readonly #encoder: ChannelEncoder;
  readonly #decoders = new Map<string, PublisherDecoder>();
  readonly #ingest: IngestManager;
  readonly #options: MediaOptions;
  readonly #log: Logger;
  readonly #canvas: Canvas;
  #splitters: Fmp4Splitter[] = [];
  #generation = 0;
  #generationStart = 0;
  #offFeed: (() => void) | undefined;
  #closed = false;

  constructor(
    record: ChannelRecord,
    epochMs: number,
    ingest: IngestManager,
    options: MediaOptions,
    log: Logger,
  ) {
    this.channelId = record.channelId;
    this.record = record;
    this.#ingest = ingest;
    this.#options = options;
    this.#log = log;
    this.#canvas = canvasFor(record);
    const segmentSeconds = record.spec.hls[0]?.durationSeconds ?? 2;
    const epochWallclockMs = Date.now() - (monotonicMs() - epochMs);
    this.packagers = record.spec.hls.map(
      (variant) =>
        new VariantPackager({
          segmentSeconds,
          partTargetSeconds: partTargetFor(options.partSeconds, variant.video.fps),
          windowSegments: options.windowSegments,
          epochWallclockMs,
        }),
    );
    this.#encoder = new ChannelEncoder({
      ffmpegPath: options.ffmpegPath,
      canvas: this.#canvas,
      variants: record.spec.hls,
      partSeconds: options.partSeconds,
      preset: options.preset,
      log: log.child({ stage: 'encoder' }),
      output: {
        started: (generation, startSeconds) => {
          this.#generation = generation;
          this.#generationStart = startSeconds;
          this.#splitters = record.spec.hls.map(() => new Fmp4Splitter());
        },
        data: (generation, index, chunk) => {
          this.#onEncoded(generation, index, chunk);
        },
        ended: (generation) => {
          if (generation !== this.#generation) return;
          for (const packager of this.packagers) packager.endGeneration();
        },
      },
    });
    this.#mixer = new Mixer({
      canvas: this.#canvas,
      epochMs,
      latencyMs: options.mixerLatencyMs,
      staleMs: 1000,
      output: (tick) => {
        this.#encoder.write(tick);
      },
    });
  }

  start(): void {
    this.#mixer.start();
    for (const feed of this.#ingest.feeds(this.channelId)) this.#addFeed(feed);
    this.#offFeed = this.#ingest.onFeed((feed) => {
      if (feed.channelId === this.channelId) this.#addFeed(feed);
    });
  }

  stats(): Record<string, unknown> {
    return {
      mixer: this.#mixer.stats(),
      encoder: this.#encoder.stats(),
      decoders: Object.fromEntries([...this.#decoders].map(([id, decoder]) => [id, decoder.stats()])),
      packagers: this.packagers.map((packager) => packager.stats()),
    };
  }

  /** Kills the encoder (supervision tests). */
  killEncoder(): void {
    this.#encoder.kill();
  }

  /** Ends the stream: playlists get EXT-X-ENDLIST, every process stops. */
  async close(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offFeed?.();
    this.#mixer.close();
    await Promise.all([...this.#decoders.values()].map((decoder) => decoder.close()));
    this.#decoders.clear();
    await this.#encoder.close();
    for (const packager of this.packagers) packager.end();
    this.#log.info({ reason }, 'channel media closed');
  }

  #addFeed(feed: PublisherFeed): void {
    if (this.#closed || this.#decoders.has(feed.publisherId)) return;
    const sink = this.#mixer.addSource(feed.publisherId);
    const decoder = new PublisherDecoder({
      feed,
      ffmpegPath: this.#options.ffmpegPath,
      canvas: this.#canvas,
      sink,
      log: this.#log.child({ stage: 'decoder', publisher: feed.publisherId }),
    });
    this.#decoders.set(feed.publisherId, decoder);
    decoder.start();
    feed.onClose(() => {
      this.#decoders.delete(feed.publisherId);
      this.#mixer.removeSource(feed.publisherId);
      void decoder.close();
    });
  }

  #onEncoded(generation: number, index: number, chunk: Uint8Array): void {
    if (generation !== this.#generation) return;
    const splitter = this.#splitters[index];
    const packager = this.packagers[index];
    if (splitter === undefined || packager === undefined) return;
    try {
      for (const unit of splitter.push(chunk)) {
        if (unit.type === 'init') packager.setInit(unit.bytes, unit.info, this.#generationStart);
        else packager.addFragment(unit.bytes, unit.info);
      }
    } catch (err) {
      this.#log.error({ err, variant: index }, 'encoder output unreadable; restarting the encoder');
      this.#encoder.kill();
    }
  }
}
