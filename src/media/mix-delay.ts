/**
 * How far behind the channel clock the mixer composes (MixDelay below). Pure: the caller gives the times.
 */
export interface MixDelayOptions {
  /** The start, and the most. */
  maxMs: number;
  /**
   * The least (0: never ahead of the channel clock, whose playout delay stays for the network); above `maxMs`,
   * `maxMs` is the delay throughout.
   */
  minMs: number;
  /** Kept beyond the latest arrival of the window, for one later still. */
  marginMs: number;
  /** How long an arrival counts. */
  windowMs: number;
  /** How fast the delay comes down, ms per second. */
  downMsPerSecond: number;
}

export const defaultMixDelayOptions: Omit<MixDelayOptions, 'maxMs' | 'minMs'> = {
  marginMs: 30,
  windowMs: 10_000,
  downMsPerSecond: 20,
};

/**
 * How far behind the channel clock the mixer composes. Its pictures and sound come from decoders fed by the
 * network: each must be there by its tick, and how early they come depends on the publisher's network (pacing,
 * retransmissions) and on the decoders (how many pictures they hold, how loaded the machine is). A delay large
 * enough for a lossy network and a loaded machine wastes most of itself on a good one (measured on loopback with
 * 200 ms: pictures came 224 ms before their tick in the worst percent).
 *
 * So the delay follows what arrivals need: the latest any picture or sound came (against its tick) over the last
 * `windowMs`, plus `marginMs`, within [minMs, maxMs]. It goes up at once (the mixer then waits that much longer
 * for its next tick: the stream is made a little later, nothing is lost) and comes down at `downMsPerSecond`
 * (ticks come a little sooner than real time: nothing is skipped either, every picture and sample is still
 * mixed). It starts at `maxMs` and never goes past it. An arrival counts for the whole window, so a source that
 * left keeps the delay where its arrivals put it for up to `windowMs`.
 */
export class MixDelay {
  readonly #options: MixDelayOptions;
  #delayMs: number;
  #updatedAtMs: number | undefined;
  /** What recent arrivals needed, each with when it arrived: needs strictly decreasing, so the first is the most. */
  readonly #needs: { atMs: number; needMs: number }[] = [];

  constructor(options: MixDelayOptions) {
    this.#options = options;
    this.#delayMs = options.maxMs;
  }

  /** The delay now, ms. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /**
   * Something the tick at channel time `dueMs` needs arrived when the channel clock (undelayed) read `clockMs`,
   * at `nowMs` on the monotonic clock.
   */
  arrived(dueMs: number, clockMs: number, nowMs: number): void {
    const needMs = clockMs - dueMs + this.#options.marginMs;
    while ((this.#needs.at(-1)?.needMs ?? Number.POSITIVE_INFINITY) <= needMs) this.#needs.pop();
    this.#needs.push({ atMs: nowMs, needMs });
  }

  /** Moves the delay towards what the window needs; returns it. */
  update(nowMs: number): number {
    const { minMs, maxMs, windowMs, downMsPerSecond } = this.#options;
    while ((this.#needs[0]?.atMs ?? nowMs) < nowMs - windowMs) this.#needs.shift();
    const elapsedMs = Math.max(0, nowMs - (this.#updatedAtMs ?? nowMs));
    this.#updatedAtMs = nowMs;
    const needMs = this.#needs[0]?.needMs;
    // Nothing arrived lately (the slate): stay where it is.
    if (needMs === undefined) return this.#delayMs;
    const wanted = Math.min(maxMs, Math.max(minMs, needMs));
    if (wanted >= this.#delayMs) this.#delayMs = wanted;
    else this.#delayMs = Math.max(wanted, this.#delayMs - (downMsPerSecond * elapsedMs) / 1000);
    return this.#delayMs;
  }
}
