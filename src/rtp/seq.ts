/**
 * Wrapping RTP arithmetic (RFC 3550 §A.1): 16-bit sequence numbers and 32-bit timestamps compared by their
 * signed distance, and unwrapped into monotonic counts that never wrap within a session.
 */

/** a − b for 16-bit sequence numbers, in −32768..32767. */
export function seqDiff16(a: number, b: number): number {
  return ((((a - b) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
}

/** a − b for 32-bit timestamps, in −2^31..2^31−1. */
export function tsDiff32(a: number, b: number): number {
  // ToInt32 (the `| 0`) reduces the difference modulo 2^32 into the signed range.
  return (a - b) | 0;
}

/** Extends 16-bit sequence numbers: each value is placed nearest to the previous one. */
export class SequenceUnwrapper {
  #last: number | undefined;

  unwrap(seq: number): number {
    const masked = seq & 0xffff;
    const extended = this.#last === undefined ? masked : this.#last + seqDiff16(masked, this.#last & 0xffff);
    if (this.#last === undefined || extended > this.#last) this.#last = extended;
    return extended;
  }
}

/** Extends 32-bit timestamps the same way. */
export class TimestampUnwrapper {
  #last: number | undefined;

  unwrap(timestamp: number): number {
    const value = timestamp >>> 0;
    if (this.#last === undefined) {
      this.#last = value;
      return value;
    }
    const extended = this.#last + tsDiff32(value, this.#last % 2 ** 32);
    if (extended > this.#last) this.#last = extended;
    return extended;
  }
}
