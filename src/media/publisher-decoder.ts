/**
 * Decodes one publisher (a PublisherFeed) into raw frames on the channel clock: an ffmpeg child fed Matroska with
 * the publisher's encoded frames and their times, giving constant-rate I420 frames at the canvas size and
 * continuous 48 kHz PCM. Starts on the first video keyframe, or on audio when the publisher has no video track a
 * moment after its first sound (and starts again with video when a video track comes later); a decoder that dies
 * is restarted (from the next keyframe, which is asked for). A decoder that falls behind (starved of CPU on a
 * loaded machine: a picture ready to come out for more than `maxLagMs`) has its input video dropped until the
 * next keyframe, counted, so it catches up and stays near live instead of running ever later.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaCounters } from './media-counters.ts';
import type { Logger } from 'pino';
import { matroskaFrame, matroskaHeader, type MatroskaTrack } from '../container/matroska-writer.ts';
import type { EncodedFrame } from '../rtp/encoded-frame.ts';
import { monotonicMs } from '../lib/clock.ts';
import { loopStalledMs } from '../lib/loop-stalls.ts';
import { DecoderLag } from './decoder-lag.ts';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.ts';
import { RestartBackoff } from './restart-backoff.ts';
import { audioChannels, decoderArgs, sampleRate, type Canvas } from './media-args.ts';
import { FixedFrameReader, UnixSocketReader } from './raw-frames.ts';
import { i420Bytes } from './i420.ts';
import { PicturePool, releasePicture, type PicturePoolStats } from './picture-pool.ts';

export interface DecodedVideo {
  /** Channel time of this frame, ms. */
  timeMs: number;
  /** I420, canvas size; a pool's picture, so a sink that keeps it past the call holds it (picture-pool.ts). */
  data: Uint8Array;
  /**
   * No new picture of this time was given: the decoder repeated the one before to fill a gap in its input (a
   * publisher sending fewer frames than the canvas shows). It comes out only once the next picture is written, so
   * late, and it shows nothing new.
   */
  repeated?: boolean;
}

export interface DecodedAudio {
  /** Channel-clock index of the first sample (time × 48000). */
  firstSample: number;
  /** Interleaved s16 stereo. */
  samples: Int16Array;
}

export interface DecoderSink {
  video(frame: DecodedVideo): void;
  audio(chunk: DecodedAudio): void;
}

/** Where a decoder's frames come from: a PublisherFeed in the server, a replay in tests. */
export interface FrameSource {
  onFrame(listener: (frame: EncodedFrame) => void): () => void;
  requestKeyframe(reason: string): void;
  hasTrack(kind: 'audio' | 'video'): boolean;
}

export interface PublisherDecoderOptions {
  feed: FrameSource;
  ffmpegPath: string;
  canvas: Canvas;
  sink: DecoderSink;
  log: Logger;
  /** Input bytes queued in the pipe beyond which video is dropped until the next keyframe. */
  maxQueuedBytes?: number;
  /**
   * How long a picture may wait inside the decoder before video is dropped until the next keyframe, ms. 1000 by
   * default: a second late is already plain to viewers. Time this process itself was held up does not count
   * (`stalledMs`, by default the loop's).
   */
  maxLagMs?: number;
  stalledMs?: (fromMs: number, toMs: number) => number;
  /** How long sound waits for a video track before the publisher is decoded as audio only, ms. */
  audioOnlyAfterMs?: number;
}

export interface DecoderStats {
  starts: number;
  restarts: number;
  framesIn: number;
  videoDropped: number;
  videoOut: number;
  audioSamplesOut: number;
  /** The decoder's pictures: how many were allocated, and how often one was reused instead. */
  pictures: PicturePoolStats;
  lastExit: string | undefined;
}

/**
 * A fresh path for a decoder's picture socket, in the temporary directory, or in /tmp when that path would be
 * longer than a unix socket's path may be (107 bytes on Linux).
 */
function pictureSocketPath(): string {
  const name = `nagare-decoder-${randomBytes(6).toString('hex')}.sock`;
  const path = join(tmpdir(), name);
  return Buffer.byteLength(path) <= 100 ? path : join('/tmp', name);
}

export class PublisherDecoder {
  readonly #options: PublisherDecoderOptions;
  readonly #stats: Omit<DecoderStats, 'pictures'> = {
    starts: 0,
    restarts: 0,
    framesIn: 0,
    videoDropped: 0,
    videoOut: 0,
    audioSamplesOut: 0,
    lastExit: undefined,
  };
  #process: FfmpegProcess | undefined;
  /** Processes replaced (audio only → with video) and still stopping; close() waits for them. */
  readonly #stopping = new Set<Promise<FfmpegExit>>();
  #withVideo = false;
  #firstAudioAt: number | undefined;
  #dropping = false;
  #lastVideoMs = Number.NEGATIVE_INFINITY;
  #lastAudioMs = Number.NEGATIVE_INFINITY;
  readonly #lag: DecoderLag;
  readonly #pictures: PicturePool;
  #closed = false;
  readonly #backoff = new RestartBackoff([250, 500, 1000, 2000]);
  #restartTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: PublisherDecoderOptions) {
    this.#options = options;
    this.#lag = new DecoderLag({ frameMs: 1000 / options.canvas.fps });
    this.#pictures = new PicturePool(i420Bytes(options.canvas.width, options.canvas.height));
  }

  start(): void {
    this.#unsubscribe = this.#options.feed.onFrame((frame) => {
      this.#onFrame(frame);
    });
    this.#options.feed.requestKeyframe('decoder starting');
  }

  stats(): DecoderStats {
    return { ...this.#stats, pictures: this.#pictures.stats() };
  }

  /** The running ffmpeg's pid (CPU accounting in benchmarks). */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    clearTimeout(this.#restartTimer);
    await Promise.all([this.#process?.stop(), ...this.#stopping]);
    this.#process = undefined;
  }

  #onFrame(frame: EncodedFrame): void {
    if (this.#closed) return;
    const videoKeyframe = frame.kind === 'video' && frame.keyframe;
    if (this.#process !== undefined && !this.#withVideo && videoKeyframe) {
      // Video came to a publisher decoded as audio only: start again with both.
      const stopping = this.#process.stop();
      this.#stopping.add(stopping);
      void stopping.then(() => this.#stopping.delete(stopping));
      this.#process = undefined;
    }
    if (this.#process === undefined) {
      if (this.#restartTimer !== undefined) return;
      if (videoKeyframe) this.#spawn(frame, true);
      else if (frame.kind === 'audio' && this.#audioOnly()) this.#spawn(frame, false);
      else return;
    }
    this.#write(frame);
  }

  /** No video track, and sound has waited long enough for one. */
  #audioOnly(): boolean {
    if (this.#options.feed.hasTrack('video')) return false;
    const now = monotonicMs();
    this.#firstAudioAt ??= now;
    return now - this.#firstAudioAt >= (this.#options.audioOnlyAfterMs ?? 1000);
  }

  #spawn(first: EncodedFrame, withVideo: boolean): void {
    const { canvas, ffmpegPath, feed, log } = this.#options;
    const firstMs = ((first.ptsTicks ?? 0) * 1000) / first.timescale;
    // ffmpeg's fps filter (round=down) starts on the grid point at or before the first frame, as written in ms.
    const startSeconds = Math.floor((Math.round(firstMs) / 1000) * canvas.fps + 1e-9) / canvas.fps;
    const hasAudio = feed.hasTrack('audio');
    const videoSocket = pictureSocketPath();
    const process = new FfmpegProcess({
      path: ffmpegPath,
      args: decoderArgs({ hasVideo: withVideo, hasAudio, startSeconds, videoSocket, ...canvas }),
      extraPipes: hasAudio ? [3] : [],
    });
    this.#process = process;
    this.#withVideo = withVideo;
    this.#stats.starts += 1;
    mediaCounters.decoderStarts += 1;
    this.#dropping = false;
    this.#lastVideoMs = Number.NEGATIVE_INFINITY;
    this.#lastAudioMs = Number.NEGATIVE_INFINITY;
    this.#lag.reset();
    process.start();
    const tracks: MatroskaTrack[] = [];
    if (withVideo) tracks.push({ number: 1, codec: first.codec });
    if (hasAudio) tracks.push({ number: 2, codec: 'opus', channels: 2 });
    process.stream(0)?.write(matroskaHeader(tracks));
    if (withVideo) this.#readVideo(process, startSeconds, videoSocket);
    if (hasAudio) this.#readAudio(process, startSeconds);
    void process.exited.then((exit) => {
      this.#onExit(process, exit);
    });
    log.info({ startSeconds, withVideo, hasAudio, pid: process.pid }, 'decoder started');
  }

  #write(frame: EncodedFrame): void {
    const stdin = this.#process?.stream(0);
    if (stdin === undefined || !stdin.writable) return;
    const timeMs = ((frame.ptsTicks ?? 0) * 1000) / frame.timescale;
    this.#stats.framesIn += 1;
    if (frame.kind === 'video') {
      if (!this.#withVideo) return;
      const now = monotonicMs();
      const overloaded = stdin.writableLength > (this.#options.maxQueuedBytes ?? 4 * 1024 * 1024);
      const behind =
        this.#lag.lagMs(now, this.#options.stalledMs ?? loopStalledMs) > (this.#options.maxLagMs ?? 1000);
      // Once dropping, only a keyframe ends it: the pictures in between refer to the ones dropped.
      if (overloaded || (this.#dropping ? !frame.keyframe : behind)) {
        if (!this.#dropping) {
          this.#options.feed.requestKeyframe(overloaded ? 'decoder input overloaded' : 'decoder behind');
        }
        this.#dropping = true;
        this.#stats.videoDropped += 1;
        mediaCounters.decoderVideoDropped += 1;
        return;
      }
      this.#dropping = false;
      // Matroska needs increasing times per track; the ingest guarantees ≥ 1 ms steps, restarts do not.
      if (timeMs <= this.#lastVideoMs) return;
      this.#lastVideoMs = timeMs;
      stdin.write(matroskaFrame(1, timeMs, frame.keyframe, frame.data));
      this.#lag.written(timeMs, now);
    } else {
      if (timeMs <= this.#lastAudioMs) return;
      this.#lastAudioMs = timeMs;
      stdin.write(matroskaFrame(2, timeMs, true, frame.data));
    }
  }

  /**
   * Pictures come over a unix socket the decoder listens on, read into one reused buffer and cut into pool
   * pictures (raw-frames.ts); the socket goes with the process.
   */
  #readVideo(process: FfmpegProcess, startSeconds: number, path: string): void {
    const { canvas, sink } = this.#options;
    const reader = new FixedFrameReader(this.#pictures);
    let index = 0;
    const picture = (data: Uint8Array): void => {
      if (index === 0) this.#backoff.reset();
      this.#stats.videoOut += 1;
      const timeMs = (startSeconds + index / canvas.fps) * 1000;
      const fresh = this.#process !== process || this.#lag.output(timeMs);
      sink.video(fresh ? { timeMs, data } : { timeMs, data, repeated: true });
      releasePicture(data);
      index += 1;
    };
    const socket = new UnixSocketReader({
      path,
      bufferBytes: 256 * 1024,
      data: (chunk) => {
        reader.push(chunk, picture);
      },
      failed: (err) => {
        // Pictures could never come: end the decoder, and it starts again after its back-off.
        this.#options.log.warn({ err, path }, 'decoder picture socket failed');
        process.kill();
      },
    });
    socket.start();
    void process.exited
      .then(() => {
        socket.close();
        reader.discard();
        // ffmpeg removes its socket when it closes it, not when it is killed.
        return rm(path, { force: true });
      })
      .catch(() => undefined);
  }

  #readAudio(process: FfmpegProcess, startSeconds: number): void {
    const { sink } = this.#options;
    const firstSample = Math.round(startSeconds * sampleRate);
    let next = firstSample;
    let carry: Buffer | undefined;
    const frameBytes = 2 * audioChannels;
    process.stream(3)?.on('data', (chunk: Buffer) => {
      const bytes = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
      const usable = bytes.length - (bytes.length % frameBytes);
      carry = usable < bytes.length ? bytes.subarray(usable) : undefined;
      if (usable === 0) return;
      // An audio-only decoder that produces sound is well: its next crash restarts it quickly again.
      if (!this.#withVideo && next === firstSample) this.#backoff.reset();
      const copy = new Int16Array(usable / 2);
      new Uint8Array(copy.buffer).set(bytes.subarray(0, usable));
      sink.audio({ firstSample: next, samples: copy });
      next += usable / frameBytes;
      this.#stats.audioSamplesOut += usable / frameBytes;
    });
  }

  #onExit(process: FfmpegProcess, exit: FfmpegExit): void {
    if (this.#process !== process) return;
    this.#process = undefined;
    if (this.#closed || exit.requested) return;
    this.#stats.lastExit = `${exit.signal ?? exit.code ?? ''} ${exit.reason}`.trim();
    this.#stats.restarts += 1;
    mediaCounters.decoderRestarts += 1;
    const delay = this.#backoff.nextDelayMs();
    this.#options.log.warn({ exit, restartInMs: delay }, 'decoder exited; restarting');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#options.feed.requestKeyframe('decoder restarted');
    }, delay);
  }
}
