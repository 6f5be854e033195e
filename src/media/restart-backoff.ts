/** Delays between restarts of a supervised child: longer after each failure in a row, back to the first once it ran well. */
export class RestartBackoff {
  readonly #delaysMs: readonly number[];
  #failures = 0;

  constructor(delaysMs: readonly number[]) {
    this.#delaysMs = delaysMs;
  }

  /** Records a failure; the delay before the next start. */
  nextDelayMs(): number {
    this.#failures += 1;
    return this.#delaysMs[Math.min(this.#failures, this.#delaysMs.length) - 1] ?? 0;
  }

  /** The child has been working: the next failure starts from the shortest delay again. */
  reset(): void {
    this.#failures = 0;
  }
}
