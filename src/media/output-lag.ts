/**
 * How long an encoder has been sitting on pictures it was given: the time since the oldest picture whose media
 * has not come out yet was written to it, on the wall clock. Measured on the wall clock rather than by comparing
 * media times, so that the input's own times cannot make an encoder look behind: a burst of frames (the receiving
 * process was held up and read what waited in its socket at once), or a sender's clock stepping forward, writes
 * media far beyond what came out, yet an encoder that keeps up turns it out within moments. Time this process was
 * itself held up (`stalledMs`) is not the encoder's and is left out.
 *
 * A picture comes out only once its part is complete, which takes a later picture: the caller allows a part's
 * length on top of the lag it tolerates. Pure: the caller gives times from its monotonic clock.
 */

interface WrittenPicture {
  timeMs: number;
  writtenAtMs: number;
}

/** Pictures tracked at most (30 s at 30 fps); past that the oldest are forgotten, the lag already far over. */
const maxPending = 900;

export class OutputLag {
  #pending: WrittenPicture[] = [];
  /** Index of the oldest pending picture (shifting an array per picture is O(n)). */
  #head = 0;

  /** A picture of media time `timeMs` was written at `nowMs`. */
  written(timeMs: number, nowMs: number): void {
    this.#pending.push({ timeMs, writtenAtMs: nowMs });
    if (this.#pending.length - this.#head > maxPending) this.#head += 1;
    this.#compact();
  }

  /** Media up to `untilMs` came out: the pictures before it are through. */
  produced(untilMs: number): void {
    while ((this.#pending[this.#head]?.timeMs ?? Number.POSITIVE_INFINITY) < untilMs) this.#head += 1;
    this.#compact();
  }

  /**
   * How long the oldest picture not yet out has been waiting, ms (0 if none), less the time this process was held
   * up meanwhile (`stalledMs(fromMs, toMs)`).
   */
  lagMs(nowMs: number, stalledMs: (fromMs: number, toMs: number) => number = () => 0): number {
    const oldest = this.#pending[this.#head];
    if (oldest === undefined) return 0;
    return Math.max(0, nowMs - oldest.writtenAtMs - stalledMs(oldest.writtenAtMs, nowMs));
  }

  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }
}
