/**
 * A playlist with one publisher, encoded directly: one ffmpeg from the publisher's encoded frames to every variant
 * (directArgs), so the publisher's pictures never pass through Node, and one process runs instead of a decoder
 * and an encoder. It begins on the publisher's first video keyframe.
 *
 * It does not restart and has no slate: when it cannot go on (its ffmpeg died, the publisher's video stopped for
 * `staleMs`, no keyframe, no video or no sound came, it fell behind real time), it stops and says why, and the
 * playlist goes on through the decoder and the mixer, which cope with all of those. The caller also ends it when a
 * second publisher comes or the publisher leaves. It sets no timer that fires while all is well: each wake-up of
 * the process costs 70 to 120 µs of CPU on these machines.
 *
 * Its media is placed on the channel clock the playout delay earlier than the frames' own times. Those times are
 * when a frame is due (its arrival plus the playout delay, room for the decoders and the mixer to line sources
 * up); a direct run writes each frame as it arrives, so its parts come out sooner, and with the frames' own
 * times their EXT-X-PROGRAM-DATE-TIME would lie ahead of the real time they are listed at.
 */
import type { Writable } from 'node:stream';
import { matroskaFrame, matroskaHeader } from '../container/matroska-writer.ts';
import { monotonicMs } from '../lib/clock.ts';
import { loopStalledMs } from '../lib/loop-stalls.ts';
import type { EncodedFrame } from '../rtp/encoded-frame.ts';
import type { ChannelEncoderOptions } from './channel-encoder.ts';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.ts';
import { directArgs } from './media-args.ts';
import { mediaCounters } from './media-counters.ts';
import { OutputLag } from './output-lag.ts';
import type { FrameSource } from './publisher-decoder.ts';
import { defaultPublisherClockOptions } from '../rtp/publisher-clock.ts';

/** What it encodes as the channel's encoder would, and from what. */
export interface DirectEncoderOptions extends Omit<ChannelEncoderOptions, 'maxQueuedBytes'> {
  feed: FrameSource;
  /** It stopped on its own (not by stop()): the playlist must go on another way. Called once. */
  ended(reason: string): void;
  /** No video from the publisher for this long ends it, ms. */
  staleMs?: number;
  /** Sound without a video track for this long ends it, ms: the publisher sends no video. */
  noVideoMs?: number;
  /** No keyframe to begin on for this long ends it, ms (the mixer then shows what there is). */
  startTimeoutMs?: number;
  /** Where on the channel clock it may begin at the earliest (the end of what the playlist lists), seconds. */
  notBeforeSeconds?: number;
  /**
   * A picture written this long ago (past a part's length, wall clock) and not yet out ends it, ms: its ffmpeg
   * cannot keep up. Time this process itself was held up does not count (`stalledMs`, by default the loop's).
   */
  maxLagMs?: number;
  stalledMs?: (fromMs: number, toMs: number) => number;
}

export interface DirectEncoderStats {
  /** The run's start on the channel clock, seconds; undefined before its first keyframe. */
  startSeconds: number | undefined;
  framesIn: number;
  /** Why it stopped, when it did. */
  endReason: string | undefined;
}

const { playoutDelayMs } = defaultPublisherClockOptions;
/**
 * How long it waits for a keyframe to begin on, ms. A browser answers the keyframe request (repeated every 500 ms
 * by the ingest) within a round trip; a sender that ignores requests and sends keyframes at its own interval
 * (the benchmarks' replayed publisher: every 8.6 s) must not be taken for one that sends none.
 */
const startTimeoutMs = 10_000;
/** Sound frames held for the next picture at most (Opus: 20 ms each), so a low picture rate does not delay it. */
const maxHeldAudio = 4;
/**
 * How long a picture may wait in ffmpeg past a part's length, ms. A run that fell back costs a cut and the
 * decoder's and mixer's CPU, so a passing hiccup must not end it. Measured on media times with 1.5 s, it ended 2
 * of 16 one-channel runs of 50 s (a picture 1.78 s past the output), the publisher's video then being placed up
 * to a second off its sound (werift's whole-second Sender Reports, docs/interop-notes.md).
 */
const defaultMaxLagMs = 2500;
/** Extra room for lag before the first part comes out: ffmpeg starting on a loaded machine, ms. */
const startGraceMs = 4000;

export class DirectEncoder {
  readonly #options: DirectEncoderOptions;
  readonly #stats: DirectEncoderStats = { startSeconds: undefined, framesIn: 0, endReason: undefined };
  #process: FfmpegProcess | undefined;
  /** Its ffmpeg stopping, once it ended on its own. */
  #stopping: Promise<FfmpegExit> | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Until it starts, the wait for a keyframe; then the wait for the next picture, refreshed by each. */
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #startMs = 0;
  #firstAudioAt: number | undefined;
  #lastVideoMs = Number.NEGATIVE_INFINITY;
  #lastAudioMs = Number.NEGATIVE_INFINITY;
  /** Sound waiting to go to ffmpeg with the next picture: one write and one wake-up of ffmpeg, not two or three. */
  readonly #heldAudio: Uint8Array[] = [];
  /** The pictures written and not yet out (advanced by the caller as parts come out). */
  readonly #lag = new OutputLag();
  #outputStarted = false;

  constructor(options: DirectEncoderOptions) {
    this.#options = options;
  }

  start(): void {
    this.#unsubscribe = this.#options.feed.onFrame((frame) => {
      this.#onFrame(frame);
    });
    this.#options.feed.requestKeyframe('direct encoder starting');
    this.#timer = setTimeout(() => {
      this.#end('no keyframe came');
    }, this.#options.startTimeoutMs ?? startTimeoutMs);
  }

  stats(): DirectEncoderStats {
    return { ...this.#stats };
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Media up to `runSeconds` (from the run's start) came out of the first variant. */
  produced(runSeconds: number): void {
    this.#lag.produced(runSeconds * 1000);
    this.#outputStarted = true;
  }

  /** Kills its ffmpeg (supervision tests): it then ends as if ffmpeg had died. */
  kill(): void {
    this.#process?.kill();
  }

  /** Stops it without a call to `ended`; resolves once its ffmpeg is gone. */
  async stop(): Promise<void> {
    this.#halt();
    const process = this.#process;
    this.#process = undefined;
    await Promise.all([process?.stop(), this.#stopping]);
  }

  /** Stops taking frames and checking: no more output will be asked of it. */
  #halt(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
  }

  #end(reason: string, detail: Record<string, number> = {}): void {
    if (this.#stopped) return;
    this.#halt();
    this.#stats.endReason = reason;
    mediaCounters.directFallbacks += 1;
    this.#options.log.info({ reason, ...detail }, 'direct encoding ended');
    this.#stopping = this.#process?.stop();
    this.#process = undefined;
    this.#options.ended(reason);
  }

  /**
   * How long the oldest picture not yet out has waited, and how long it may: a part, then `maxLagMs` (more while
   * ffmpeg starts).
   */
  #lagging(nowMs: number): { lagMs: number; allowedMs: number } {
    const { maxLagMs = defaultMaxLagMs, stalledMs = loopStalledMs } = this.#options;
    const allowedMs = this.#options.partSeconds * 1000 + maxLagMs + (this.#outputStarted ? 0 : startGraceMs);
    return { lagMs: this.#lag.lagMs(nowMs, stalledMs), allowedMs };
  }

  #onFrame(frame: EncodedFrame): void {
    if (this.#stopped) return;
    if (this.#process === undefined) {
      if (frame.kind === 'audio') {
        const now = monotonicMs();
        this.#firstAudioAt ??= now;
        if (
          now - this.#firstAudioAt >= (this.#options.noVideoMs ?? 1000) &&
          !this.#options.feed.hasTrack('video')
        ) {
          this.#end('no video track');
        }
      }
      if (frame.kind !== 'video' || !frame.keyframe) return;
      const notBeforeMs = (this.#options.notBeforeSeconds ?? 0) * 1000;
      if (((frame.ptsTicks ?? 0) * 1000) / frame.timescale - playoutDelayMs < notBeforeMs) return;
      if (!this.#options.feed.hasTrack('audio')) {
        this.#end('no audio track');
        return;
      }
      this.#spawn(frame);
    }
    const stdin = this.#process?.stream(0);
    if (stdin === undefined || !stdin.writable) return;
    // Times from the run's start; what is before it (sound ahead of the first keyframe) is left out, and Matroska
    // wants times that increase on each track.
    const timeMs = ((frame.ptsTicks ?? 0) * 1000) / frame.timescale - playoutDelayMs - this.#startMs;
    if (frame.kind === 'video') {
      if (timeMs <= this.#lastVideoMs) return;
      this.#lastVideoMs = timeMs;
      this.#timer?.refresh();
      const now = monotonicMs();
      const { lagMs, allowedMs } = this.#lagging(now);
      if (lagMs > allowedMs) {
        this.#end('fell behind real time', { lagMs: Math.round(lagMs), allowedMs });
        return;
      }
      this.#lag.written(timeMs, now);
      this.#flush(stdin, matroskaFrame(1, timeMs, frame.keyframe, frame.data));
    } else {
      if (timeMs < 0 || timeMs <= this.#lastAudioMs) return;
      this.#lastAudioMs = timeMs;
      this.#heldAudio.push(matroskaFrame(2, timeMs, true, frame.data));
      if (this.#heldAudio.length >= maxHeldAudio) this.#flush(stdin);
    }
    this.#stats.framesIn += 1;
  }

  /**
   * The held sound, then `picture`, in one write: ffmpeg wakes up about 30 times a second instead of 80. Measured
   * on one channel in three alternating pairs of 20 s: ffmpeg 0.117–0.125 cores against 0.125–0.147 writing each
   * frame as it came, Node 0.017–0.019 against 0.020–0.025; parts were listed 87 ms after their end (p50)
   * against 83.
   */
  #flush(stdin: Writable, picture?: Uint8Array): void {
    stdin.cork();
    for (const held of this.#heldAudio) stdin.write(held);
    this.#heldAudio.length = 0;
    if (picture !== undefined) stdin.write(picture);
    stdin.uncork();
  }

  #spawn(first: EncodedFrame): void {
    const { canvas, variants, partSeconds, schedule, preset, ffmpegPath, output, log } = this.#options;
    const firstMs = ((first.ptsTicks ?? 0) * 1000) / first.timescale - playoutDelayMs;
    // The run starts on the canvas frame grid at or before its first picture, as a decoder's output does.
    const startSeconds = Math.floor((Math.round(firstMs) / 1000) * canvas.fps + 1e-9) / canvas.fps;
    this.#startMs = startSeconds * 1000;
    this.#stats.startSeconds = startSeconds;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#end('publisher video stopped');
    }, this.#options.staleMs ?? 1000);
    const process = new FfmpegProcess({
      path: ffmpegPath,
      args: directArgs({ canvas, variants, partSeconds, schedule, preset }),
      extraPipes: variants.map((_, index) => 3 + index),
    });
    this.#process = process;
    mediaCounters.directStarts += 1;
    process.start();
    output.started(1, startSeconds);
    variants.forEach((_, index) => {
      process.stream(3 + index)?.on('data', (chunk: Buffer) => {
        output.data(1, index, chunk);
      });
    });
    process.stream(0)?.write(
      matroskaHeader([
        { number: 1, codec: first.codec },
        { number: 2, codec: 'opus', channels: 2 },
      ]),
    );
    void process.exited.then((exit) => {
      this.#onExit(process, exit);
    });
    log.info({ startSeconds, pid: process.pid }, 'direct encoder started');
  }

  #onExit(process: FfmpegProcess, exit: FfmpegExit): void {
    if (this.#process !== process) return;
    this.#options.output.ended(1);
    this.#process = undefined;
    this.#end(`ffmpeg exited: ${`${exit.signal ?? exit.code ?? ''} ${exit.reason}`.trim()}`);
  }
}
