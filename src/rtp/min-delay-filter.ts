/**
 * The lower envelope of (arrival − source time) over a sliding window: network delay only ever adds, so the
 * minimum is the best estimate of the clock offset plus the smallest one-way delay. Kept as one minimum per
 * bucket, so memory is constant and an old minimum leaves the window, which lets the estimate follow clock drift.
 */
export class MinDelayFilter {
  readonly #bucketSeconds: number;
  readonly #bucketCount: number;
  #buckets: { index: number; min: number }[] = [];

  constructor(bucketSeconds: number, bucketCount: number) {
    this.#bucketSeconds = bucketSeconds;
    this.#bucketCount = bucketCount;
  }

  add(sample: number, atSeconds: number): void {
    const index = Math.floor(atSeconds / this.#bucketSeconds);
    const last = this.#buckets[this.#buckets.length - 1];
    if (last !== undefined && last.index === index) {
      if (sample < last.min) last.min = sample;
    } else if (last === undefined || index > last.index) {
      this.#buckets.push({ index, min: sample });
    }
    // Samples older than the newest bucket only count if they are within the window.
    const oldest = index - this.#bucketCount + 1;
    while ((this.#buckets[0]?.index ?? oldest) < oldest) this.#buckets.shift();
  }

  estimate(): number | undefined {
    let min: number | undefined;
    for (const bucket of this.#buckets) if (min === undefined || bucket.min < min) min = bucket.min;
    return min;
  }

  reset(): void {
    this.#buckets = [];
  }
}
