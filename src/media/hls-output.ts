/**
 * One playlist of a channel and what makes it: a mixer (its composition of the channel's decoded publishers), one
 * encoder for all the channel's variants, and a packager per variant. The composite of a channel is one; each
 * publisher's own playlist (multistream channels with HLS) is another. The origin serves it by playlist id.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { HlsVariant, Layout } from '../channel/channel-spec.ts';
import { Fmp4Splitter } from '../hls/format/fmp4-reader.ts';
import { VariantPackager } from '../hls/variant-packager.ts';
import { segmentScheduleFor } from '../hls/segment-schedule.ts';
import { monotonicMs } from '../lib/clock.ts';
import { SpeedMeter } from '../lib/speed-meter.ts';
import { ChannelEncoder } from './channel-encoder.ts';
import type { Canvas } from './media-args.ts';
import { Mixer, type Composition, type SourceInfo } from './mixer.ts';
import type { DecoderSink } from './publisher-decoder.ts';
import { Audience } from '../lib/audience.ts';
import { defaultConfig, type Config } from '../config.ts';

export interface MediaOptions {
  ffmpegPath: string;
  partSeconds: number;
  /** The most the mixer composes behind the channel clock (room for decoding), ms; where it starts. */
  mixerLatencyMs: number;
  /** The least it comes down to when pictures and sound come early enough, ms (mix-delay.ts). */
  mixerMinLatencyMs: number;
  windowSegments: number;
  preset: string;
}

/** Complete segments kept in each playlist's window. */
const windowSegments = 8;

/** The media options of a server configured as `config` (the benchmarks use them with the defaults). */
export function mediaOptionsOf(
  config: Pick<Config, 'ffmpegPath' | 'partSeconds' | 'mixDelayMs' | 'mixDelayMinMs' | 'x264Preset'>,
): MediaOptions {
  return {
    ffmpegPath: config.ffmpegPath,
    partSeconds: config.partSeconds,
    mixerLatencyMs: config.mixDelayMs,
    mixerMinLatencyMs: config.mixDelayMinMs,
    windowSegments,
    preset: config.x264Preset,
  };
}

export const defaultMediaOptions: MediaOptions = mediaOptionsOf(defaultConfig);

/**
 * A variant's PART-TARGET. The encoder cuts a fragment once it holds `partSeconds`, at a frame boundary, so a part
 * lasts `partSeconds` rounded up to whole frames (0.5 s at 15 fps: 8 frames, 0.533 s), and RFC 8216bis §4.4.4.9
 * wants every part ≤ PART-TARGET.
 */
export function partTargetFor(partSeconds: number, fps: number): number {
  return Math.ceil(partSeconds * fps - 1e-9) / fps;
}

/** The canvas: the largest variant's size, the highest frame rate. */
export function canvasFor(variants: readonly HlsVariant[]): Canvas {
  let width = 0;
  let height = 0;
  let fps = 0;
  for (const { video } of variants) {
    if (video.width * video.height > width * height) {
      width = video.width;
      height = video.height;
    }
    fps = Math.max(fps, video.fps);
  }
  return { width, height, fps };
}

/** What the origin reads of a playlist. */
export interface HlsStream {
  /** Part of every media URI, so caches never mix two runs of one playlist. */
  readonly runId: string;
  readonly variants: readonly HlsVariant[];
  readonly packagers: readonly VariantPackager[];
  /** Bytes served and viewers, counted by the origin. */
  readonly audience: Pick<Audience, 'served'>;
}

export interface HlsOutputOptions {
  channelId: string;
  playlistId: string;
  variants: readonly HlsVariant[];
  composition: Composition;
  /** Channel clock origin (monotonic ms). */
  epochMs: number;
  media: MediaOptions;
  log: Logger;
}

export class HlsOutput implements HlsStream {
  readonly channelId: string;
  readonly playlistId: string;
  readonly runId = randomBytes(4).toString('hex');
  readonly variants: readonly HlsVariant[];
  readonly packagers: readonly VariantPackager[];
  readonly canvas: Canvas;
  readonly audience = new Audience();
  readonly #mixer: Mixer;
  readonly #encoder: ChannelEncoder;
  readonly #log: Logger;
  #splitters: Fmp4Splitter[] = [];
  #generation = 0;
  #generationStart = 0;
  #listingLatencyMs: number | undefined;
  readonly #encoderSpeed = new SpeedMeter();
  #closing: Promise<void> | undefined;

  constructor(options: HlsOutputOptions) {
    const { variants, media, log } = options;
    this.channelId = options.channelId;
    this.playlistId = options.playlistId;
    this.variants = variants;
    this.#log = log;
    this.canvas = canvasFor(variants);
    const segmentSeconds = variants[0]?.durationSeconds ?? 2;
    const schedule = segmentScheduleFor(
      segmentSeconds,
      partTargetFor(media.partSeconds, this.canvas.fps),
      variants.map((variant) => variant.video.fps),
    );
    const epochWallclockMs = Date.now() - (monotonicMs() - options.epochMs);
    this.packagers = variants.map(
      (variant) =>
        new VariantPackager({
          segmentSeconds,
          firstSegmentSeconds: schedule.firstSeconds,
          partTargetSeconds: partTargetFor(media.partSeconds, variant.video.fps),
          windowSegments: media.windowSegments,
          epochWallclockMs,
        }),
    );
    this.#encoder = new ChannelEncoder({
      ffmpegPath: media.ffmpegPath,
      canvas: this.canvas,
      variants,
      partSeconds: media.partSeconds,
      schedule,
      preset: media.preset,
      log: log.child({ stage: 'encoder' }),
      output: {
        started: (generation, startSeconds) => {
          this.#generation = generation;
          this.#generationStart = startSeconds;
          this.#splitters = variants.map(() => new Fmp4Splitter());
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
      canvas: this.canvas,
      composition: options.composition,
      epochMs: options.epochMs,
      latencyMs: media.mixerLatencyMs,
      minLatencyMs: media.mixerMinLatencyMs,
      staleMs: 1000,
      output: (tick) => {
        this.#encoder.write(tick);
      },
    });
  }

  start(): void {
    this.#mixer.start();
  }

  addSource(info: SourceInfo): DecoderSink {
    return this.#mixer.addSource(info);
  }

  removeSource(connectionId: string): void {
    this.#mixer.removeSource(connectionId);
  }

  setLayout(layout: Layout): void {
    this.#mixer.setLayout(layout);
  }

  /**
   * Ingest to playlist, ms: how far behind real time the newest part was when it was listed (its end, as
   * EXT-X-PROGRAM-DATE-TIME places it). Unlike liveEdgeMs it does not depend on when it is asked. Undefined
   * before the first part.
   */
  get listingLatencyMs(): number | undefined {
    return this.#listingLatencyMs;
  }

  /**
   * How far the newest listed media is behind real time, ms: its end, as EXT-X-PROGRAM-DATE-TIME places it,
   * against now (so it grows between two parts, and while the stream stalls). Undefined before the first part.
   */
  liveEdgeMs(nowMs = Date.now()): number | undefined {
    const segment = this.packagers[0]?.segments.at(-1);
    if (segment?.programDateTime === undefined) return undefined;
    let duration = 0;
    for (const part of segment.parts) duration += part.durationSeconds;
    return Math.round(nowMs - (segment.programDateTime.getTime() + duration * 1000));
  }

  /** How far behind the channel clock its mixer composes now, ms: between --mix-delay-min and --mix-delay. */
  get mixerDelayMs(): number {
    return this.#mixer.delayMs;
  }

  /**
   * Media seconds the encoder made per second of real time over the last 10 s (its first variant's parts): 1
   * when it keeps up. Undefined in its first seconds.
   */
  get encoderSpeed(): number | undefined {
    return this.#encoderSpeed.speed(monotonicMs());
  }

  /** Every variant lists a complete segment: the playlist can be played. */
  get playable(): boolean {
    return this.packagers.every((packager) => packager.playable);
  }

  /** Resolves once the playlist can be played; false when it ended first. */
  async whenPlayable(): Promise<boolean> {
    for (const packager of this.packagers) {
      while (!packager.playable) {
        if (packager.ended) return false;
        await new Promise<void>((resolve) => {
          const off = packager.onChange(() => {
            off();
            resolve();
          });
        });
      }
    }
    return true;
  }

  stats(): Record<string, unknown> {
    return {
      mixer: this.#mixer.stats(),
      encoder: this.#encoder.stats(),
      packagers: this.packagers.map((packager) => packager.stats()),
    };
  }

  /** Kills the encoder (supervision tests). */
  killEncoder(): void {
    this.#encoder.kill();
  }

  /** The running encoder's pid (CPU accounting in benchmarks). */
  get encoderPid(): number | undefined {
    return this.#encoder.pid;
  }

  /** Ends the playlist (EXT-X-ENDLIST) and stops the encoder. Idempotent: every call resolves when it is done. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#mixer.close();
    await this.#encoder.close();
    for (const packager of this.packagers) packager.end();
  }

  #onEncoded(generation: number, index: number, chunk: Uint8Array): void {
    if (generation !== this.#generation) return;
    const splitter = this.#splitters[index];
    const packager = this.packagers[index];
    if (splitter === undefined || packager === undefined) return;
    try {
      for (const unit of splitter.push(chunk)) {
        if (unit.type === 'init') packager.setInit(unit.bytes, unit.info, this.#generationStart);
        else {
          packager.addFragment(unit.bytes, unit.info);
          if (index === 0) {
            this.#listingLatencyMs = this.liveEdgeMs();
            this.#encoderSpeed.record(monotonicMs(), unit.info.durationSeconds);
          }
        }
      }
    } catch (err) {
      this.#log.error({ err, variant: index }, 'encoder output unreadable; restarting the encoder');
      this.#encoder.kill();
    }
  }
}
