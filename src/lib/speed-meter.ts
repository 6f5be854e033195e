/**
 * How fast something produces media against real time: media seconds produced per second over a sliding window
 * (an encoder that keeps up runs at 1; below 1 it falls behind). Pure: the caller gives the times.
 */
export class SpeedMeter {
  readonly #windowMs: number;
  /** Running total of media seconds at each record, oldest first; one sample at or before the window's start. */
  readonly #samples: { atMs: number; mediaSeconds: number }[] = [];
  #totalSeconds = 0;

  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }

  /** `mediaSeconds` more were produced at `atMs`. */
  record(atMs: number, mediaSeconds: number): void {
    this.#totalSeconds += mediaSeconds;
    this.#samples.push({ atMs, mediaSeconds: this.#totalSeconds });
    while (this.#samples.length > 2 && (this.#samples[1]?.atMs ?? atMs) <= atMs - this.#windowMs) {
      this.#samples.shift();
    }
  }

  /**
   * Media seconds per second from the oldest sample kept to `nowMs`, so a producer that stopped shows its speed
   * falling; undefined until a quarter of the window has been seen.
   */
  speed(nowMs: number): number | undefined {
    const oldest = this.#samples[0];
    if (oldest === undefined || nowMs - oldest.atMs < this.#windowMs / 4) return undefined;
    return ((this.#totalSeconds - oldest.mediaSeconds) * 1000) / (nowMs - oldest.atMs);
  }
}
