/**
 * The channel's mixer: an output clock at the canvas frame rate, started once and running for the channel's life.
 * At each tick it takes, from each source (a decoded publisher), the latest frame due by then and the audio
 * samples of the tick, and hands one picture and one block of audio to the encoder. With nobody publishing (or a
 * publisher stalled) it sends a slate — black and silence — so the stream never stops.
 *
 * One publisher fills the canvas (its decoder already scaled and letterboxed it). Audio of all sources is summed
 * with saturation.
 */
import { monotonicMs } from '../lib/clock.ts';
import type { DecodedAudio, DecodedVideo, DecoderSink } from './publisher-decoder.ts';
import { audioChannels, sampleRate, type Canvas } from './media-args.ts';

export interface MixedTick {
  /** Channel time of this picture and of the first audio sample, ms. */
  timeMs: number;
  /** I420 at canvas size. */
  video: Uint8Array;
  /** Interleaved s16 stereo covering exactly this tick. */
  audio: Int16Array;
  /** No publisher's picture was due: the slate is shown. */
  slate: boolean;
}

export interface MixerOptions {
  canvas: Canvas;
  /** Channel clock origin (monotonic ms). */
  epochMs: number;
  /** How long after its channel time a tick is produced: room for decoding behind the playout delay. */
  latencyMs: number;
  /** A source whose newest picture is older than this is shown as absent. */
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
}

class MixerSource implements DecoderSink {
  readonly id: string;
  readonly joinedAt: number;
  /** Decoded pictures not yet shown, oldest first; bounded. */
  pictures: DecodedVideo[] = [];
  current: DecodedVideo | undefined;
  audioChunks: DecodedAudio[] = [];
  droppedVideo = 0;
  droppedAudio = 0;

  constructor(id: string, joinedAt: number) {
    this.id = id;
    this.joinedAt = joinedAt;
  }

  video(frame: DecodedVideo): void {
    this.pictures.push(frame);
    if (this.pictures.length > 90) {
      this.pictures.shift();
      this.droppedVideo += 1;
    }
  }

  audio(chunk: DecodedAudio): void {
    this.audioChunks.push(chunk);
    let queued = 0;
    for (const c of this.audioChunks) queued += c.samples.length / audioChannels;
    while (queued > sampleRate * 3 && this.audioChunks.length > 1) {
      const dropped = this.audioChunks.shift();
      const count = (dropped?.samples.length ?? 0) / audioChannels;
      queued -= count;
      this.droppedAudio += count;
    }
  }

  /** The latest picture due at `timeMs`, or undefined if none is fresh enough. */
  pictureAt(timeMs: number, staleMs: number): DecodedVideo | undefined {
    while (this.pictures.length > 0 && (this.pictures[0]?.timeMs ?? Infinity) <= timeMs + 0.5) {
      this.current = this.pictures.shift();
    }
    if (this.current === undefined || timeMs - this.current.timeMs > staleMs) return undefined;
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
  readonly #now: () => number;
  readonly #stats: MixerStats = {
    ticks: 0,
    slateTicks: 0,
    lateTicksSkipped: 0,
    videoFramesDropped: 0,
    audioSamplesDropped: 0,
  };
  #next: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MixerOptions) {
    this.#options = options;
    this.#now = options.now ?? monotonicMs;
    const { width, height } = options.canvas;
    this.#slate = new Uint8Array((width * height * 3) / 2);
    this.#slate.fill(16, 0, width * height);
    this.#slate.fill(128, width * height);
  }

  /** A decoded publisher joins the picture; returns the sink its decoder writes to. */
  addSource(id: string): DecoderSink {
    const source = new MixerSource(id, this.#now());
    this.#sources.set(id, source);
    return source;
  }

  removeSource(id: string): void {
    const source = this.#sources.get(id);
    if (source === undefined) return;
    this.#stats.videoFramesDropped += source.droppedVideo;
    this.#stats.audioSamplesDropped += source.droppedAudio;
    this.#sources.delete(id);
  }

  start(): void {
    this.#next ??= this.#firstTick();
    this.#schedule();
  }

  stats(): MixerStats {
    let videoDropped = this.#stats.videoFramesDropped;
    let audioDropped = this.#stats.audioSamplesDropped;
    for (const source of this.#sources.values()) {
      videoDropped += source.droppedVideo;
      audioDropped += source.droppedAudio;
    }
    return { ...this.#stats, videoFramesDropped: videoDropped, audioSamplesDropped: audioDropped };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #firstTick(): number {
    const channelMs = this.#now() - this.#options.epochMs - this.#options.latencyMs;
    return Math.max(0, Math.ceil((channelMs / 1000) * this.#options.canvas.fps));
  }

  #tickTimeMs(n: number): number {
    return (n * 1000) / this.#options.canvas.fps;
  }

  #schedule(): void {
    if (this.#closed || this.#next === undefined) return;
    const dueAt = this.#options.epochMs + this.#tickTimeMs(this.#next) + this.#options.latencyMs;
    this.#timer = setTimeout(
      () => {
        this.#run();
      },
      Math.max(0, dueAt - this.#now()),
    );
  }

  #run(): void {
    if (this.#closed || this.#next === undefined) return;
    const channelMs = this.#now() - this.#options.epochMs - this.#options.latencyMs;
    // Far behind (the process stalled): skip ahead rather than burst; the encoder fills the gap.
    const behind = Math.floor((channelMs / 1000) * this.#options.canvas.fps) - this.#next;
    if (behind > this.#options.canvas.fps) {
      this.#stats.lateTicksSkipped += behind;
      this.#next += behind;
    }
    while (this.#tickTimeMs(this.#next) <= channelMs) {
      this.#options.output(this.#tick(this.#next));
      this.#next += 1;
    }
    this.#schedule();
  }

  #tick(n: number): MixedTick {
    const timeMs = this.#tickTimeMs(n);
    const { fps } = this.#options.canvas;
    const firstSample = Math.round((n * sampleRate) / fps);
    const count = Math.round(((n + 1) * sampleRate) / fps) - firstSample;
    const ordered = [...this.#sources.values()].sort((a, b) => a.joinedAt - b.joinedAt);
    let video: Uint8Array | undefined;
    for (const source of ordered) {
      const picture = source.pictureAt(timeMs, this.#options.staleMs);
      video ??= picture?.data;
    }
    const mix = new Int32Array(count * audioChannels);
    for (const source of ordered) source.mixAudio(firstSample, count, mix);
    const audio = new Int16Array(mix.length);
    for (let i = 0; i < mix.length; i++) audio[i] = Math.max(-32768, Math.min(32767, mix[i] ?? 0));
    this.#stats.ticks += 1;
    if (video === undefined) this.#stats.slateTicks += 1;
    return { timeMs, video: video ?? this.#slate, audio, slate: video === undefined };
  }
}
