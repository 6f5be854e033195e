/**
 * A mixer: an output clock at the canvas frame rate, running while its output is mixed (it may be paused while the
 * output is encoded directly, and started again). At each tick
 * it takes, from each source (a decoded publisher), the latest picture due by then and the audio samples of the
 * tick, and hands one picture and one block of audio to the encoder. With nobody publishing (or a publisher
 * stalled) it sends a slate, black and silence, so the stream never stops.
 *
 * Two compositions: `single` (a publisher's own playlist: its decoder already scaled and letterboxed it to the
 * canvas, so its pictures pass through uncopied) and `layout` (the composite: every source in a tile of the
 * layout, a placeholder for a source without a fresh picture). Audio of all sources is summed and limited so it
 * never clips.
 */
import type { Layout } from '../channel/channel-spec.ts';
import { monotonicMs } from '../lib/clock.ts';
import { percentilesOf, RecentValues } from '../lib/recent-values.ts';
import { defaultMixDelayOptions, MixDelay } from './mix-delay.ts';
import { AudioLimiter, type LimiterStats } from './audio-limiter.ts';
import {
  black,
  copyInto,
  drawScaled,
  fillRect,
  i420Bytes,
  placeholderPicture,
  solidPicture,
  type Picture,
} from './i420.ts';
import { holdPicture, PicturePool, releasePicture } from './picture-pool.ts';
import { fitInto, layoutTiles, orderSources } from './layout.ts';
import type { DecodedAudio, DecodedVideo, DecoderSink } from './publisher-decoder.ts';
import { audioChannels, sampleRate, type Canvas } from './media-args.ts';

export interface MixedTick {
  /** Channel time of this picture and of the first audio sample, ms. */
  timeMs: number;
  /** I420 at canvas size; may be a pool's picture, so whoever keeps it past the call holds it (picture-pool.ts). */
  video: Uint8Array;
  /** Interleaved s16 stereo covering exactly this tick. */
  audio: Int16Array;
  /** No publisher's picture was shown: the slate (or only placeholders). */
  slate: boolean;
}

export type Composition = { kind: 'single' } | { kind: 'layout'; layout: Layout };

export interface MixerOptions {
  canvas: Canvas;
  composition: Composition;
  /** Channel clock origin (monotonic ms). */
  epochMs: number;
  /**
   * How long after its channel time a tick is produced: room for decoding behind the playout delay. The most, when
   * `minLatencyMs` is lower: the mixer then composes sooner when pictures and sound come sooner (mix-delay.ts).
   */
  latencyMs: number;
  /** The least it may come down to; `latencyMs` (a fixed delay) if absent. */
  minLatencyMs?: number;
  /**
   * A source that has sent no picture for this long (mixer time) is shown as absent. Arrival counts, not the
   * picture's own time: a decoder steadily behind shows its late pictures, not a placeholder.
   */
  staleMs: number;
  output(tick: MixedTick): void;
  now?: () => number;
}

export interface MixerStats {
  ticks: number;
  slateTicks: number;
  lateTicksSkipped: number;
  videoFramesDropped: number;
  audioSamplesDropped: number;
  /** Tiles of the layout at the last tick, placeholders included (0 for a publisher's own playlist). */
  tiles: number;
  /** The largest delay given to a source's sound to follow its late decoder, ms. */
  maxAudioDelayMs: number;
  /** Pictures that came after their tick (shown late): the decoder was behind the mixer's delay. */
  latePictures: number;
  /** How far behind the channel clock the mixer composes now, ms (mix-delay.ts). */
  delayMs: number;
  /**
   * How long before the tick that shows it each of the last 30 s of pictures (of every source) came, ms: what is
   * left of the playout delay and the mixer's delay once the network, the jitter buffer and the decoder have taken
   * theirs. Negative: late (counted in latePictures). Absent before the first picture.
   */
  pictureLeadMs?: { min: number; p1: number; p5: number; p50: number };
  limiter: LimiterStats;
}

/** What a source knows of the mixer's progress. */
interface SourceClock {
  /** The next sample the mixer reads (channel samples). */
  readPosition(): number;
  /** The channel time the mixer is producing now, ms. */
  channelMs(): number;
  /**
   * A picture of this time came now: how long before the tick that shows it (ms, negative when that tick was made
   * already); the mixer's delay learns from it.
   */
  pictureArrived(pictureTimeMs: number): number;
  /** Sound starting at this sample (not silence) came now; the mixer's delay learns from it. */
  soundArrived(firstSample: number): void;
}

/** Who a source is, for layout order. */
export interface SourceInfo {
  connectionId: string;
  clientId?: string | undefined;
}

/** Pictures whose lead is kept per source for `pictureLeadMs` (30 s at 30 fps). */
const leadWindowPictures = 900;
/** Pictures a source may have waiting (3 s at 30 fps); older ones are dropped, counted. */
const maxQueuedPictures = 90;
/**
 * The most a source's sound is delayed to follow a late decoder: 3 s, as long as its pictures may wait. Late
 * pictures are shown, so late sound is played with them rather than dropped (a decoder starting on a loaded
 * machine was seen 1-2 s late at first).
 */
const maxAudioDelaySamples = sampleRate * 3;
/** 5 ms: how much of a source's delay is given back per chunk once it is on time. */
const shrinkStepSamples = sampleRate / 200;

function isSilent(samples: Int16Array): boolean {
  for (const sample of samples) if (sample !== 0) return false;
  return true;
}

class MixerSource implements DecoderSink {
  readonly connectionId: string;
  readonly clientId: string | undefined;
  readonly joinedAt: number;
  /** Decoded pictures not yet shown, oldest first; bounded. */
  pictures: DecodedVideo[] = [];
  current: DecodedVideo | undefined;
  audioChunks: DecodedAudio[] = [];
  droppedVideo = 0;
  droppedAudio = 0;
  latePictures = 0;
  /** How long before its tick each recent picture came (ms). */
  readonly pictureLeads = new RecentValues(leadWindowPictures);
  /**
   * Samples this source's sound is played behind its own times: a decoder running late (a loaded machine) has its
   * sound delayed rather than lost, as its pictures are shown late rather than not at all. Grows at once to the
   * lateness seen, shrinks by at most 5 ms per chunk once the decoder is on time again.
   */
  audioDelaySamples = 0;
  maxAudioDelaySamples = 0;
  /** Lateness (samples) of recent chunks, newest last. */
  readonly #recentLateness: number[] = [];
  /** Channel time being mixed when the newest picture arrived, ms. */
  #pictureArrivedMs = Number.NEGATIVE_INFINITY;
  readonly #clock: SourceClock;
  #queuedEndSample = Number.NEGATIVE_INFINITY;

  constructor(info: SourceInfo, joinedAt: number, clock: SourceClock) {
    this.#clock = clock;
    this.connectionId = info.connectionId;
    this.clientId = info.clientId;
    this.joinedAt = joinedAt;
  }

  video(frame: DecodedVideo): void {
    // A picture whose tick has passed: the decoder is behind the mixer's delay (shown late, counted).
    // A repeat shows what the picture before it did, and is late by nature (the decoder lets it out only once the
    // next picture is in): its lateness says nothing of how early pictures come, and is not counted.
    if (frame.repeated !== true) {
      const leadMs = this.#clock.pictureArrived(frame.timeMs);
      if (leadMs < 0) this.latePictures += 1;
      this.pictureLeads.add(leadMs);
    }
    this.#pictureArrivedMs = this.#clock.channelMs();
    holdPicture(frame.data);
    this.pictures.push(frame);
    if (this.pictures.length > maxQueuedPictures) {
      const dropped = this.pictures.shift();
      if (dropped !== undefined) releasePicture(dropped.data);
      this.droppedVideo += 1;
    }
  }

  /** Lets go of every picture held (the source leaves, or the mixer closes). */
  releasePictures(): void {
    for (const picture of this.pictures) releasePicture(picture.data);
    if (this.current !== undefined) releasePicture(this.current.data);
    this.pictures = [];
    this.current = undefined;
  }

  audio(chunk: DecodedAudio): void {
    const frames = chunk.samples.length / audioChannels;
    // How far the mixer has already read past this chunk's start, on its own times. Pure silence does not count:
    // it is what the decoder fills a pause in the sound with, all at once when the sound comes back, and that
    // would hold the sound after it back by the whole pause (up to the cap) for many seconds. Late silence
    // dropped is not heard.
    if (!isSilent(chunk.samples)) {
      this.#recentLateness.push(Math.max(0, this.#clock.readPosition() - chunk.firstSample));
      if (this.#recentLateness.length > 50) this.#recentLateness.shift();
      this.#clock.soundArrived(chunk.firstSample);
    }
    const wanted = Math.min(maxAudioDelaySamples, Math.max(0, ...this.#recentLateness));
    if (wanted > this.audioDelaySamples) this.audioDelaySamples = wanted;
    else this.audioDelaySamples -= Math.min(this.audioDelaySamples - wanted, shrinkStepSamples);
    this.maxAudioDelaySamples = Math.max(this.maxAudioDelaySamples, this.audioDelaySamples);
    // Never before what is queued already (a shrinking delay would overlap) nor before what was played.
    const notBefore = Math.max(this.#queuedEndSample, this.#clock.readPosition());
    const shifted = chunk.firstSample + this.audioDelaySamples;
    const skip = Math.min(frames, Math.max(0, notBefore - shifted));
    this.droppedAudio += skip;
    if (skip === frames) return;
    const firstSample = shifted + skip;
    this.#queuedEndSample = shifted + frames;
    this.audioChunks.push(
      firstSample === chunk.firstSample
        ? chunk
        : { firstSample, samples: chunk.samples.subarray(skip * audioChannels) },
    );
    let queued = 0;
    for (const c of this.audioChunks) queued += c.samples.length / audioChannels;
    while (queued > sampleRate * 3 && this.audioChunks.length > 1) {
      const dropped = this.audioChunks.shift();
      const count = (dropped?.samples.length ?? 0) / audioChannels;
      queued -= count;
      this.droppedAudio += count;
    }
  }

  /**
   * The latest picture due at `timeMs`, or undefined if there is none or the source has sent nothing for
   * `staleMs`. A picture is fresh by its own time or by when it arrived, whichever is later.
   */
  pictureAt(timeMs: number, staleMs: number): DecodedVideo | undefined {
    while (this.pictures.length > 0 && (this.pictures[0]?.timeMs ?? Infinity) <= timeMs + 0.5) {
      if (this.current !== undefined) releasePicture(this.current.data);
      this.current = this.pictures.shift();
    }
    if (this.current === undefined) return undefined;
    if (timeMs - Math.max(this.current.timeMs, this.#pictureArrivedMs) > staleMs) return undefined;
    return this.current;
  }

  /** Adds this source's samples in [first, first + count) into `mix` (saturating). */
  mixAudio(first: number, count: number, mix: Int32Array): void {
    const end = first + count;
    for (const chunk of this.audioChunks) {
      const chunkEnd = chunk.firstSample + chunk.samples.length / audioChannels;
      const from = Math.max(first, chunk.firstSample);
      const to = Math.min(end, chunkEnd);
      for (let s = from; s < to; s++) {
        const src = (s - chunk.firstSample) * audioChannels;
        const dst = (s - first) * audioChannels;
        mix[dst] = (mix[dst] ?? 0) + (chunk.samples[src] ?? 0);
        mix[dst + 1] = (mix[dst + 1] ?? 0) + (chunk.samples[src + 1] ?? 0);
      }
    }
    // Chunks wholly before the next tick are done with.
    while (this.audioChunks.length > 0) {
      const head = this.audioChunks[0];
      if (head === undefined || head.firstSample + head.samples.length / audioChannels > end) break;
      this.audioChunks.shift();
    }
  }
}

export class Mixer {
  readonly #options: MixerOptions;
  readonly #sources = new Map<string, MixerSource>();
  readonly #slate: Uint8Array;
  /** Composite pictures, held by the encoder's writes in flight. */
  readonly #composites: PicturePool;
  readonly #now: () => number;
  readonly #limiter = new AudioLimiter(sampleRate);
  readonly #delay: MixDelay;
  #composition: Composition;
  readonly #stats = {
    ticks: 0,
    slateTicks: 0,
    lateTicksSkipped: 0,
    videoFramesDropped: 0,
    audioSamplesDropped: 0,
    tiles: 0,
    maxAudioDelayMs: 0,
    latePictures: 0,
  };
  #next: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MixerOptions) {
    this.#options = options;
    this.#composition = options.composition;
    this.#now = options.now ?? monotonicMs;
    this.#delay = new MixDelay({
      ...defaultMixDelayOptions,
      maxMs: options.latencyMs,
      minMs: options.minLatencyMs ?? options.latencyMs,
    });
    const { width, height } = options.canvas;
    this.#slate = solidPicture(width, height, black).data;
    this.#composites = new PicturePool(i420Bytes(width, height), 4);
  }

  /** A decoded publisher joins the picture; returns the sink its decoder writes to. */
  addSource(info: SourceInfo): DecoderSink {
    const source = new MixerSource(info, this.#now(), {
      readPosition: () =>
        this.#next === undefined
          ? Number.NEGATIVE_INFINITY
          : Math.round((this.#next * sampleRate) / this.#options.canvas.fps),
      channelMs: () => this.#channelMs(),
      pictureArrived: (timeMs) => this.#pictureArrived(timeMs),
      soundArrived: (firstSample) => {
        this.#arrived(Math.floor((firstSample * this.#options.canvas.fps) / sampleRate));
      },
    });
    this.#sources.set(info.connectionId, source);
    return source;
  }

  removeSource(connectionId: string): void {
    const source = this.#sources.get(connectionId);
    if (source === undefined) return;
    this.#stats.videoFramesDropped += source.droppedVideo;
    this.#stats.audioSamplesDropped += source.droppedAudio;
    this.#stats.latePictures += source.latePictures;
    this.#stats.maxAudioDelayMs = Math.max(
      this.#stats.maxAudioDelayMs,
      (source.maxAudioDelaySamples * 1000) / sampleRate,
    );
    source.releasePictures();
    this.#sources.delete(connectionId);
  }

  /** A new layout, from the next tick on. */
  setLayout(layout: Layout): void {
    if (this.#composition.kind === 'layout') this.#composition = { kind: 'layout', layout };
  }

  /** Starts the clock; its first tick is at or after `notBeforeMs` of channel time (where another run ended). */
  start(notBeforeMs = 0): void {
    this.#next ??= Math.max(
      this.#firstTick(),
      Math.ceil((notBeforeMs / 1000) * this.#options.canvas.fps - 1e-6),
    );
    this.#schedule();
  }

  /** How far behind the channel clock it composes now, ms (mix-delay.ts). */
  get delayMs(): number {
    return this.#delay.delayMs;
  }

  stats(): MixerStats {
    let videoDropped = this.#stats.videoFramesDropped;
    let audioDropped = this.#stats.audioSamplesDropped;
    let maxAudioDelayMs = this.#stats.maxAudioDelayMs;
    let latePictures = this.#stats.latePictures;
    const leads: number[] = [];
    for (const source of this.#sources.values()) {
      videoDropped += source.droppedVideo;
      audioDropped += source.droppedAudio;
      latePictures += source.latePictures;
      maxAudioDelayMs = Math.max(maxAudioDelayMs, (source.maxAudioDelaySamples * 1000) / sampleRate);
      leads.push(...source.pictureLeads.values());
    }
    const percentiles = percentilesOf(leads, [0, 1, 5, 50])?.map(Math.round);
    const [min = 0, p1 = 0, p5 = 0, p50 = 0] = percentiles ?? [];
    return {
      ...this.#stats,
      maxAudioDelayMs: Math.round(maxAudioDelayMs),
      latePictures,
      delayMs: Math.round(this.#delay.delayMs),
      ...(percentiles === undefined ? {} : { pictureLeadMs: { min, p1, p5, p50 } }),
      videoFramesDropped: videoDropped,
      audioSamplesDropped: audioDropped,
      limiter: this.#limiter.stats(),
    };
  }

  /** Stops the clock until the next start(), which begins afresh at the present (its sources stay). */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#next = undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const source of this.#sources.values()) source.releasePictures();
  }

  /** The channel time being produced now: the clock behind by the mixer's delay. */
  #channelMs(): number {
    return this.#now() - this.#options.epochMs - this.#delay.delayMs;
  }

  /** A picture of this time came: how long before the tick that shows it, which its delay learns from. */
  #pictureArrived(timeMs: number): number {
    const tick = this.#pictureTick(timeMs);
    this.#arrived(tick);
    // Late when its tick was made already, however near (the delay may have gone up since); on time when not,
    // though a timer firing late may leave the clock past it.
    const leadMs = this.#tickTimeMs(tick) - this.#channelMs();
    const made = this.#next !== undefined && tick < this.#next;
    return made ? Math.min(leadMs, -0.001) : Math.max(leadMs, 0);
  }

  /**
   * Something tick `tick` needs came now. Sound is judged at the tick holding its first sample, before any delay
   * the mixer gives a late source's sound (MixerSource.audioDelaySamples).
   */
  #arrived(tick: number): void {
    const now = this.#now();
    this.#delay.arrived(this.#tickTimeMs(tick), now - this.#options.epochMs, now);
  }

  #firstTick(): number {
    const channelMs = this.#channelMs();
    return Math.max(0, Math.ceil((channelMs / 1000) * this.#options.canvas.fps));
  }

  /** The first tick that shows a picture of this time (pictureAt takes those due by half a millisecond after). */
  #pictureTick(timeMs: number): number {
    return Math.ceil(((timeMs - 0.5) * this.#options.canvas.fps) / 1000);
  }

  #tickTimeMs(n: number): number {
    return (n * 1000) / this.#options.canvas.fps;
  }

  #schedule(): void {
    if (this.#closed || this.#next === undefined) return;
    const dueAt = this.#options.epochMs + this.#tickTimeMs(this.#next) + this.#delay.delayMs;
    this.#timer = setTimeout(
      () => {
        this.#run();
      },
      Math.max(0, dueAt - this.#now()),
    );
  }

  #run(): void {
    if (this.#closed || this.#next === undefined) return;
    this.#delay.update(this.#now());
    const channelMs = this.#channelMs();
    // Far behind (the process stalled): skip ahead rather than burst; the encoder fills the gap.
    const behind = Math.floor((channelMs / 1000) * this.#options.canvas.fps) - this.#next;
    if (behind > this.#options.canvas.fps) {
      this.#stats.lateTicksSkipped += behind;
      this.#next += behind;
    }
    // A microsecond of slack: with a delay that moves by fractions of a millisecond, the clock can stop a hair
    // short of a tick that its timer was due for, and the timer would be set again for that hair.
    while (this.#tickTimeMs(this.#next) <= channelMs + 0.001) {
      const { tick, composed } = this.#tick(this.#next);
      this.#options.output(tick);
      if (composed) releasePicture(tick.video);
      this.#next += 1;
    }
    this.#schedule();
  }

  /** `composed`: the picture was drawn for this tick, held once by the mixer until output() returns. */
  #tick(n: number): { tick: MixedTick; composed: boolean } {
    const timeMs = this.#tickTimeMs(n);
    const { fps } = this.#options.canvas;
    const firstSample = Math.round((n * sampleRate) / fps);
    const count = Math.round(((n + 1) * sampleRate) / fps) - firstSample;
    const composition = this.#composition;
    const ordered = orderSources(
      [...this.#sources.values()],
      composition.kind === 'layout' ? composition.layout.order : undefined,
    );
    // Every source's queue moves on, shown or not.
    const pictures = ordered.map((source) => source.pictureAt(timeMs, this.#options.staleMs));
    const picture =
      composition.kind === 'single'
        ? { data: pictures.find((p) => p !== undefined)?.data, drawn: false }
        : this.#compose(composition.layout, pictures);
    const mix = new Int32Array(count * audioChannels);
    for (const source of ordered) source.mixAudio(firstSample, count, mix);
    const audio = this.#limiter.process(mix, count);
    this.#stats.ticks += 1;
    // Only what the layout shows counts: pip shows two, the others 16.
    const shown = composition.kind === 'layout' ? pictures.slice(0, this.#stats.tiles) : pictures;
    const slate = shown.every((p) => p === undefined);
    if (slate) this.#stats.slateTicks += 1;
    return { tick: { timeMs, video: picture.data ?? this.#slate, audio, slate }, composed: picture.drawn };
  }

  /**
   * The composite picture (undefined data for the slate: nobody publishing); `drawn` when it was drawn into a
   * picture of the mixer's pool, which the caller releases.
   */
  #compose(
    layout: Layout,
    pictures: readonly (DecodedVideo | undefined)[],
  ): { data: Uint8Array | undefined; drawn: boolean } {
    const { width, height } = this.#options.canvas;
    const tiles = layoutTiles(layout.type, pictures.length, width, height);
    this.#stats.tiles = tiles.length;
    if (tiles.length === 0) return { data: undefined, drawn: false };
    const [only] = pictures;
    // One publisher filling the canvas: its picture is already the canvas, letterboxed.
    if (tiles.length === 1 && only !== undefined) return { data: only.data, drawn: false };
    // Nor is there anything to draw when its placeholder fills the canvas: the shared one is read only.
    const [tile] = tiles;
    if (tiles.length === 1 && tile?.width === width && tile.height === height) {
      return { data: placeholderPicture(width, height).data, drawn: false };
    }
    const target: Picture = { data: this.#composites.take(), width, height };
    fillRect(target, { x: 0, y: 0, width, height }, black);
    tiles.forEach((tile, index) => {
      const picture = pictures[index];
      if (picture === undefined) {
        copyInto(placeholderPicture(tile.width, tile.height), target, tile.x, tile.y);
        return;
      }
      // Pip's inset sits over the full picture: clear its tile first.
      if (layout.type === 'pip' && index > 0) fillRect(target, tile, black);
      drawScaled({ data: picture.data, width, height }, target, fitInto(tile, width, height));
    });
    return { data: target.data, drawn: true };
  }
}
