/**
 * When to ask a publisher for a keyframe (RFC 4585 §6.3.1 PLI): at start, after a frame is lost for good, and
 * when a consumer asks; repeated until a keyframe arrives, at most once per interval. Pure: time comes in.
 */
export class KeyframeRequester {
  readonly #intervalMs: number;
  #wanted: boolean;
  #lastMs = Number.NEGATIVE_INFINITY;
  #sent = 0;

  constructor(intervalMs: number, wantedAtStart: boolean) {
    this.#intervalMs = intervalMs;
    this.#wanted = wantedAtStart;
  }

  get wanted(): boolean {
    return this.#wanted;
  }

  get sent(): number {
    return this.#sent;
  }

  /** Records the need; true when a request should go out now. */
  want(nowMs: number): boolean {
    this.#wanted = true;
    return this.tick(nowMs);
  }

  /** True when a request (first or repeated) is due now. */
  tick(nowMs: number): boolean {
    if (!this.#wanted || nowMs - this.#lastMs < this.#intervalMs) return false;
    this.#lastMs = nowMs;
    this.#sent += 1;
    return true;
  }

  /** A keyframe arrived: stop asking. */
  satisfied(): void {
    this.#wanted = false;
  }

  /** When the next repeat is due, if one is wanted. */
  nextDueMs(): number | undefined {
    return this.#wanted ? this.#lastMs + this.#intervalMs : undefined;
  }
}
