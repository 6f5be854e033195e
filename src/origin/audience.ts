/**
 * Who watches a playlist: bytes served and the number of distinct viewers (client address and user agent) that
 * fetched anything of it in the last ten seconds. Bounded: one entry per viewer seen in the window.
 */
const windowMs = 10_000;
const maxTracked = 100_000;

export class Audience {
  #bytes = 0;
  readonly #lastSeen = new Map<string, number>();

  get bytes(): number {
    return this.#bytes;
  }

  served(bytes: number, viewer: string, nowMs = Date.now()): void {
    this.#bytes += bytes;
    if (this.#lastSeen.size >= maxTracked && !this.#lastSeen.has(viewer)) this.#forgetOld(nowMs);
    if (this.#lastSeen.size < maxTracked) {
      // Re-inserted so the map stays ordered by last sight, oldest first.
      this.#lastSeen.delete(viewer);
      this.#lastSeen.set(viewer, nowMs);
    }
  }

  viewers(nowMs = Date.now()): number {
    this.#forgetOld(nowMs);
    return this.#lastSeen.size;
  }

  #forgetOld(nowMs: number): void {
    for (const [viewer, seen] of this.#lastSeen) {
      if (nowMs - seen <= windowMs) break;
      this.#lastSeen.delete(viewer);
    }
  }
}
