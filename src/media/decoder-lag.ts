/**
 * How long a decoder has been sitting on pictures it was given: the age of the oldest picture that could have
 * come out and has not. A decoder that keeps up answers within a frame or two; one starved of CPU (a loaded
 * machine) builds a backlog, and this says by how much.
 *
 * The decoder holds the newest pictures back until later ones arrive (ffmpeg's fps filter needs the next picture
 * to know how long one lasts, and one more is kept; measured: two pictures), so a picture counts as ready only
 * once pictures of `heldPictures` later output frames have been written. Pictures of one output frame count once:
 * when the channel clock moves a publisher's video back, the pictures after the move are written 1 ms apart until
 * their times pass the last one's, and ffmpeg lets none of them out until a later frame comes (measured: seven
 * pictures squeezed into one frame left the output where it was; counted one by one, they made a decoder look a
 * second behind, and its video was dropped until the next keyframe). A gap in the input (video dropped until a
 * keyframe, a publisher that paused) is not mistaken for lag either. Pure: the caller gives times from its
 * monotonic clock.
 */

interface PendingPicture {
  timeMs: number;
  writtenAtMs: number;
}

export interface DecoderLagOptions {
  /** The output's frame interval: output frame `t` (fps filter, round=down) shows the inputs in [t, t + frameMs). */
  frameMs: number;
  /** Output frames' worth of pictures the decoder holds back until later ones arrive. */
  heldPictures?: number;
}

/** Pictures tracked at most (30 s at 30 fps); past that the oldest are forgotten, the lag already far over. */
const maxPending = 900;

export class DecoderLag {
  readonly #frameMs: number;
  readonly #held: number;
  #pending: PendingPicture[] = [];
  /** Index of the oldest pending picture in `#pending` (shifting an array per picture is O(n)). */
  #head = 0;

  constructor(options: DecoderLagOptions) {
    this.#frameMs = options.frameMs;
    this.#held = options.heldPictures ?? 2;
  }

  /** A picture with this channel time was given to the decoder at `nowMs`. */
  written(timeMs: number, nowMs: number): void {
    this.#pending.push({ timeMs, writtenAtMs: nowMs });
    if (this.#pending.length - this.#head > maxPending) this.#head += 1;
    this.#compact();
  }

  /**
   * The decoder output the frame of this channel time: every picture given before the next frame is through.
   * Returns whether one of them was of this frame; if not, the frame repeats the one before (the fps filter
   * filling a gap in the input), and came out only once a later picture was written.
   */
  output(timeMs: number): boolean {
    const frame = this.#frameOf(timeMs);
    let fresh = false;
    for (; this.#head < this.#pending.length; this.#head += 1) {
      const pictureFrame = this.#frameOf(this.#pending[this.#head]?.timeMs ?? Number.POSITIVE_INFINITY);
      if (pictureFrame > frame) break;
      if (pictureFrame === frame) fresh = true;
    }
    this.#compact();
    return fresh;
  }

  /**
   * How long the oldest picture still inside the decoder has been ready to come out, ms (0 if none), less the time
   * this process was held up meanwhile (`stalledMs(fromMs, toMs)`): the pictures due then came all at once after.
   */
  lagMs(nowMs: number, stalledMs: (fromMs: number, toMs: number) => number = () => 0): number {
    const oldest = this.#pending[this.#head];
    if (oldest === undefined) return 0;
    // Ready since the first picture of the `heldPictures`-th later output frame was written.
    let frame = this.#frameOf(oldest.timeMs);
    let later = 0;
    for (let index = this.#head + 1; index < this.#pending.length; index++) {
      const picture = this.#pending[index];
      if (picture === undefined || this.#frameOf(picture.timeMs) <= frame) continue;
      frame = this.#frameOf(picture.timeMs);
      later += 1;
      if (later === this.#held) {
        return Math.max(0, nowMs - picture.writtenAtMs - stalledMs(picture.writtenAtMs, nowMs));
      }
    }
    return 0;
  }

  /** The output frame a picture of this time is shown in (fps filter, round=down, on the channel's frame grid). */
  #frameOf(timeMs: number): number {
    return Math.floor(timeMs / this.#frameMs + 1e-6);
  }

  /** A new decoder: nothing is pending. */
  reset(): void {
    this.#pending = [];
    this.#head = 0;
  }

  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }
}
