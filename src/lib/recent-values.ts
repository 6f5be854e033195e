/**
 * The last `capacity` values of a measure, for percentiles of how it stands now rather than over a whole life
 * (a decoder's slow first seconds should not colour an hour of figures). Adding is O(1); percentiles sort a copy,
 * so they are for stats requests, not per packet.
 */
export class RecentValues {
  readonly #values: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity}`);
    this.#values = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  add(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    this.#size = Math.min(this.#size + 1, this.#values.length);
  }

  /** The values held, oldest not first (order is of no use to percentiles). */
  values(): Float64Array {
    return this.#values.subarray(0, this.#size);
  }
}

/**
 * Nearest-rank percentiles (0-100) of `values`, in the order asked; undefined for no values.
 */
export function percentilesOf(values: ArrayLike<number>, percents: readonly number[]): number[] | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  return percents.map((p) => {
    const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
    return sorted[Math.max(0, rank - 1)] ?? Number.NaN;
  });
}
