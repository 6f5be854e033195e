/**
 * One playlist of a channel and what makes it: a mixer (its composition of the channel's decoded publishers), one
 * encoder for all the channel's variants, and a packager per variant. The composite of a channel is one; each
 * publisher's own playlist (multistream channels with HLS) is another. The origin serves it by playlist id.
 *
 * A playlist that shows one publisher may be encoded directly instead (encodeDirect: one ffmpeg from the
 * publisher's encoded frames, direct-encoder.ts) until that no longer fits: a second publisher, the publisher
 * leaving, its video stopping, its ffmpeg failing. The mixer then takes over from where the direct run ended,
 * after a discontinuity; asked to encode directly again, the direct run takes over from the mixer at the
 * publisher's next keyframe, and the mixer and its encoder stop.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { HlsVariant, Layout } from '../channel/channel-spec.ts';
import { Fmp4Splitter } from '../hls/format/fmp4-reader.ts';
import { VariantPackager } from '../hls/variant-packager.ts';
import { segmentScheduleFor, type SegmentSchedule } from '../hls/segment-schedule.ts';
import { monotonicMs } from '../lib/clock.ts';
import { SpeedMeter } from '../lib/speed-meter.ts';
import { ChannelEncoder, type EncoderOutput } from './channel-encoder.ts';
import { DirectEncoder, type DirectEncoderStats } from './direct-encoder.ts';
import type { Canvas } from './media-args.ts';
import { Mixer, type Composition, type SourceInfo } from './mixer.ts';
import type { DecoderSink, FrameSource } from './publisher-decoder.ts';
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
  /** Playlists showing one publisher are encoded directly (encodeDirect) while they can be. */
  direct: boolean;
}

/** Complete segments kept in each playlist's window. */
const windowSegments = 8;

/** The media options of a server configured as `config` (the benchmarks use them with the defaults). */
export function mediaOptionsOf(
  config: Pick<
    Config,
    'ffmpegPath' | 'partSeconds' | 'mixDelayMs' | 'mixDelayMinMs' | 'x264Preset' | 'directEncoding'
  >,
): MediaOptions {
  return {
    ffmpegPath: config.ffmpegPath,
    partSeconds: config.partSeconds,
    mixerLatencyMs: config.mixDelayMs,
    mixerMinLatencyMs: config.mixDelayMinMs,
    windowSegments,
    preset: config.x264Preset,
    direct: config.directEncoding === 'on',
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

/** What the caller of encodeDirect is told. */
export interface DirectEvents {
  /** The direct run took the playlist over from the mixer (or began, before start()). */
  took?(): void;
  /** It is over (and why; `itself`: not by endDirect): the mixer goes on. */
  ended(reason: string, itself: boolean): void;
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
  readonly #schedule: SegmentSchedule;
  readonly #media: MediaOptions;
  #splitters: Fmp4Splitter[] = [];
  /**
   * The encoder run the packagers take from: the mixer's encoder's or a direct encoder's (`direct-<n>`, one per
   * encodeDirect), by its generation.
   */
  #run: { owner: string; generation: number } | undefined;
  #directRuns = 0;
  #generationStart = 0;
  /** Channel time where the newest part of the first variant ends, seconds. */
  #producedSeconds = 0;
  #started = false;
  #mixing = false;
  #direct: { encoder: DirectEncoder; events: DirectEvents; owner: string } | undefined;
  /** Direct encoders that ended, their ffmpeg still stopping; close() waits for them. */
  readonly #directStopping = new Set<Promise<void>>();
  /** The direct run's stats, once it ended. */
  #directStats: DirectEncoderStats | undefined;
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
    const schedule = (this.#schedule = segmentScheduleFor(
      segmentSeconds,
      partTargetFor(media.partSeconds, this.canvas.fps),
      variants.map((variant) => variant.video.fps),
    ));
    this.#media = media;
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
      output: this.#outputOf('mixer'),
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

  /** Starts making the playlist: through the mixer, unless it is encoded directly. */
  start(): void {
    this.#started = true;
    if (this.#direct === undefined) this.#startMixing();
  }

  /**
   * Encodes `feed`, the playlist's one publisher, directly. Before start(), instead of a decoder for it; while the
   * mixer runs, from the publisher's next keyframe, when the mixer stops and `events.took` is told (its decoder is
   * no longer needed here). `events.ended` is told when the direct run is over, whether it took over or not: the
   * playlist then goes on through the mixer, which wants the publisher decoded if it is still there. False when a
   * direct encoder is there already.
   */
  encodeDirect(feed: FrameSource, events: DirectEvents): boolean {
    if (this.#direct !== undefined || this.#closing !== undefined) return false;
    const { variants } = this;
    this.#directRuns += 1;
    const owner = `direct-${this.#directRuns}`;
    const encoder = new DirectEncoder({
      feed,
      ffmpegPath: this.#media.ffmpegPath,
      canvas: this.canvas,
      variants,
      partSeconds: this.#media.partSeconds,
      schedule: this.#schedule,
      preset: this.#media.preset,
      output: this.#outputOf(owner),
      notBeforeSeconds: this.#producedSeconds,
      ended: (reason) => {
        this.#endDirect(reason, true);
      },
      log: this.#log.child({ stage: 'direct' }),
    });
    this.#direct = { encoder, events, owner };
    encoder.start();
    return true;
  }

  /** Ends direct encoding, if it runs: the mixer takes over. */
  endDirect(reason: string): void {
    this.#endDirect(reason, false);
  }

  /** Encoded directly now (encodeDirect), or about to be before it starts. */
  get direct(): boolean {
    return this.#direct !== undefined && !this.#mixing;
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

  /**
   * How far behind the channel clock its mixer composes now, ms: between --mix-delay-min and --mix-delay.
   * Undefined while it is encoded directly (nothing is mixed).
   */
  get mixerDelayMs(): number | undefined {
    return this.#mixing ? this.#mixer.delayMs : undefined;
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
      path: this.direct ? 'direct' : 'mixer',
      direct: this.#direct?.encoder.stats() ?? this.#directStats,
      mixer: this.#mixer.stats(),
      encoder: this.#encoder.stats(),
      packagers: this.packagers.map((packager) => packager.stats()),
    };
  }

  /** Kills the encoder, the direct one while it runs (supervision tests). */
  killEncoder(): void {
    if (this.direct) this.#direct?.encoder.kill();
    else this.#encoder.kill();
  }

  /** The running encoder's pid, the direct one while it runs (CPU accounting in benchmarks). */
  get encoderPid(): number | undefined {
    return this.#direct?.encoder.pid ?? this.#encoder.pid;
  }

  /** Ends the playlist (EXT-X-ENDLIST) and stops the encoder. Idempotent: every call resolves when it is done. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const direct = this.#direct?.encoder.stop();
    this.#direct = undefined;
    this.#mixer.close();
    await Promise.all([this.#encoder.close(), direct, ...this.#directStopping]);
    for (const packager of this.packagers) packager.end();
  }

  #startMixing(): void {
    if (this.#mixing) return;
    this.#mixing = true;
    this.#mixer.start(this.#producedSeconds * 1000);
  }

  /** The direct run took over: the mixer's clock and its encoder stop until the mixer is wanted again. */
  #stopMixing(): void {
    if (!this.#mixing) return;
    this.#mixing = false;
    this.#mixer.pause();
    void this.#encoder.stop();
  }

  #endDirect(reason: string, itself: boolean): void {
    const direct = this.#direct;
    if (direct === undefined) return;
    this.#direct = undefined;
    this.#directStats = direct.encoder.stats();
    this.#directStats.endReason ??= reason;
    const stopping = direct.encoder.stop();
    this.#directStopping.add(stopping);
    void stopping.then(() => this.#directStopping.delete(stopping));
    if (this.#run?.owner === direct.owner) {
      this.#run = undefined;
      for (const packager of this.packagers) packager.endGeneration();
    }
    this.#log.info({ reason }, 'direct encoding over; mixing from now on');
    if (this.#started && this.#closing === undefined) this.#startMixing();
    direct.events.ended(reason, itself);
  }

  /** What an encoder run (direct, or the mixer's encoder) hands its output to. */
  #outputOf(owner: string): EncoderOutput {
    const current = (generation: number): boolean =>
      this.#run?.owner === owner && this.#run.generation === generation;
    return {
      started: (generation, startSeconds) => {
        if (owner !== 'mixer') this.#stopMixing();
        this.#run = { owner, generation };
        this.#generationStart = startSeconds;
        this.#splitters = this.variants.map(() => new Fmp4Splitter());
        if (owner !== 'mixer') this.#direct?.events.took?.();
      },
      data: (generation, index, chunk) => {
        if (current(generation)) this.#onEncoded(index, chunk);
      },
      ended: (generation) => {
        if (!current(generation)) return;
        this.#run = undefined;
        for (const packager of this.packagers) packager.endGeneration();
      },
    };
  }

  #onEncoded(index: number, chunk: Uint8Array): void {
    const splitter = this.#splitters[index];
    const packager = this.packagers[index];
    if (splitter === undefined || packager === undefined) return;
    try {
      for (const unit of splitter.push(chunk)) {
        if (unit.type === 'init') packager.setInit(unit.bytes, unit.info, this.#generationStart);
        else {
          packager.addFragment(unit.bytes, unit.info);
          if (index === 0) {
            const runEnd = unit.info.startSeconds + unit.info.durationSeconds;
            this.#producedSeconds = this.#generationStart + runEnd;
            if (this.#direct !== undefined && this.#run?.owner === this.#direct.owner) {
              this.#direct.encoder.produced(runEnd);
            }
            this.#listingLatencyMs = this.liveEdgeMs();
            this.#encoderSpeed.record(monotonicMs(), unit.info.durationSeconds);
          }
        }
      }
    } catch (err) {
      this.#log.error({ err, variant: index }, 'encoder output unreadable; restarting the encoder');
      this.killEncoder();
    }
  }
}
