/**
 * A token bucket: `ratePerSecond` sustained, `burst` at once. Time comes from the caller (milliseconds of a
 * monotonic clock), so the limiter is pure and testable with a fake clock.
 */
export class TokenBucket {
  // Whole numbers of micro-tokens: adding fractions of a token as floats drifts below 1 and lets fewer through.
  readonly #microPerMs: number;
  readonly #burstMicro: number;
  #micro: number;
  #lastMs: number | undefined;

  constructor(ratePerSecond: number, burst: number) {
    this.#microPerMs = ratePerSecond * 1000;
    this.#burstMicro = burst * 1_000_000;
    this.#micro = this.#burstMicro;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    if (this.#lastMs !== undefined) {
      this.#micro = Math.min(
        this.#burstMicro,
        this.#micro + Math.round((nowMs - this.#lastMs) * this.#microPerMs),
      );
    }
    this.#lastMs = nowMs;
    if (this.#micro < 1_000_000) return false;
    this.#micro -= 1_000_000;
    return true;
  }
}

/** Lets an action through at most once per `intervalMs`. */
export class MinInterval {
  readonly #intervalMs: number;
  #lastMs = Number.NEGATIVE_INFINITY;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  tryNow(nowMs: number): boolean {
    if (nowMs - this.#lastMs < this.#intervalMs) return false;
    this.#lastMs = nowMs;
    return true;
  }
}
