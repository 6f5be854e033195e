/**
 * The channel's encoder: one ffmpeg child for the channel's life, raw pictures and audio in (Matroska with times,
 * so a dropped picture leaves a gap the encoder fills rather than shifting the timeline), one fMP4 stream per
 * variant out. A slow encoder makes the mixer's pictures drop (counted), never memory grow; one that dies is
 * restarted within the back-off and the caller is told, so the playlist marks a discontinuity.
 */
import { mediaCounters } from './media-counters.ts';
import type { Logger } from 'pino';
import type { HlsVariant } from '../channel/channel-spec.ts';
import { matroskaFrame, matroskaFrameParts, matroskaHeader } from '../container/matroska-writer.ts';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.ts';
import { holdPicture, releasePicture } from './picture-pool.ts';
import { RestartBackoff } from './restart-backoff.ts';
import { audioChannels, encoderArgs, type Canvas } from './media-args.ts';
import type { MixedTick } from './mixer.ts';
import type { SegmentSchedule } from '../hls/segment-schedule.ts';

export interface EncoderOutput {
  /** A new ffmpeg began, its output times counting from `startSeconds` of channel time: what follows on
   * each variant starts with a new init segment. */
  started(generation: number, startSeconds: number): void;
  /** Bytes of variant `index`'s fMP4 stream. */
  data(generation: number, index: number, chunk: Uint8Array): void;
  /** That ffmpeg is gone: nothing more will come from this generation. */
  ended(generation: number): void;
}

export interface ChannelEncoderOptions {
  ffmpegPath: string;
  canvas: Canvas;
  variants: readonly HlsVariant[];
  partSeconds: number;
  schedule: SegmentSchedule;
  preset: string;
  output: EncoderOutput;
  log: Logger;
  /** Input bytes queued beyond which pictures are dropped. */
  maxQueuedBytes?: number;
}

export interface EncoderStats {
  generation: number;
  restarts: number;
  ticksIn: number;
  picturesDropped: number;
  lastExit: string | undefined;
}

export class ChannelEncoder {
  readonly #options: ChannelEncoderOptions;
  readonly #stats: EncoderStats = {
    generation: 0,
    restarts: 0,
    ticksIn: 0,
    picturesDropped: 0,
    lastExit: undefined,
  };
  #process: FfmpegProcess | undefined;
  /** Processes stop() let go of, still exiting; close() waits for them. */
  readonly #stopping = new Set<Promise<void>>();
  #restartTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #backoff = new RestartBackoff([200, 500, 1000, 2000]);
  #startedAtTick = 0;

  constructor(options: ChannelEncoderOptions) {
    this.#options = options;
  }

  stats(): EncoderStats {
    return { ...this.#stats };
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** One mixer tick. Starts the encoder on the first tick (and after a restart delay). */
  write(tick: MixedTick): void {
    if (this.#closed) return;
    if (this.#process === undefined) {
      if (this.#restartTimer !== undefined) return;
      this.#spawn(tick.timeMs / 1000);
    }
    const stdin = this.#process?.stream(0);
    if (stdin === undefined || !stdin.writable) return;
    this.#stats.ticksIn += 1;
    // The tick's writes go to ffmpeg as one writev: one system call and one wake-up of its reader, not three.
    stdin.cork();
    if (stdin.writableLength > (this.#options.maxQueuedBytes ?? 16 * 1024 * 1024)) {
      this.#stats.picturesDropped += 1;
      mediaCounters.encoderPicturesDropped += 1;
    } else {
      // Headers and picture as two buffers: the picture (460 kB at 640x480) is queued, not copied, and held until
      // written (or the pipe is gone).
      const [header, picture] = matroskaFrameParts(1, tick.timeMs, true, tick.video);
      stdin.write(header);
      holdPicture(picture);
      stdin.write(picture, () => {
        releasePicture(picture);
      });
    }
    stdin.write(
      matroskaFrame(
        2,
        tick.timeMs,
        true,
        new Uint8Array(tick.audio.buffer, tick.audio.byteOffset, tick.audio.byteLength),
      ),
    );
    stdin.uncork();
    if (this.#stats.ticksIn - this.#startedAtTick === this.#options.canvas.fps * 10) this.#backoff.reset();
  }

  /** Kills the running ffmpeg (supervision tests; a stuck encoder). */
  kill(): void {
    this.#process?.kill();
  }

  /**
   * Stops the running ffmpeg, as asked (no restart); the next write starts another, a new generation. Resolves
   * once it is gone.
   */
  async stop(): Promise<void> {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const process = this.#process;
    if (process === undefined) return;
    this.#process = undefined;
    this.#options.output.ended(this.#stats.generation);
    const stopping = process.stop().then(() => undefined);
    this.#stopping.add(stopping);
    await stopping;
    this.#stopping.delete(stopping);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    await Promise.all([this.#process?.stop(), ...this.#stopping]);
    this.#process = undefined;
  }

  #spawn(startSeconds: number): void {
    const { canvas, variants, partSeconds, schedule, preset, ffmpegPath, output, log } = this.#options;
    const generation = (this.#stats.generation += 1);
    const process = new FfmpegProcess({
      path: ffmpegPath,
      args: encoderArgs({ variants, partSeconds, schedule, preset }),
      extraPipes: variants.map((_, index) => 3 + index),
    });
    this.#process = process;
    this.#startedAtTick = this.#stats.ticksIn;
    process.start();
    output.started(generation, startSeconds);
    variants.forEach((_, index) => {
      process.stream(3 + index)?.on('data', (chunk: Buffer) => {
        output.data(generation, index, chunk);
      });
    });
    process.stream(0)?.write(
      matroskaHeader([
        { number: 1, codec: 'I420', width: canvas.width, height: canvas.height },
        { number: 2, codec: 'PCM_S16LE', channels: audioChannels },
      ]),
    );
    void process.exited.then((exit) => {
      this.#onExit(process, exit);
    });
    log.info({ generation, pid: process.pid, startSeconds }, 'encoder started');
  }

  #onExit(process: FfmpegProcess, exit: FfmpegExit): void {
    if (this.#process !== process) return;
    this.#process = undefined;
    this.#options.output.ended(this.#stats.generation);
    if (this.#closed || exit.requested) return;
    this.#stats.lastExit = `${exit.signal ?? exit.code ?? ''} ${exit.reason}`.trim();
    this.#stats.restarts += 1;
    mediaCounters.encoderRestarts += 1;
    const delay = this.#backoff.nextDelayMs();
    this.#options.log.warn({ exit, restartInMs: delay }, 'encoder exited; restarting');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
    }, delay);
  }
}
