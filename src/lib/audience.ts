/**
 * Who watches a playlist: bytes served and the number of distinct viewers (client address and user agent) that
 * fetched anything of it in the last ten seconds. Bounded whatever clients send: a viewer's key is at most 200
 * characters, entries older than the window are dropped as new ones come, and at most 10 000 are kept (more
 * viewers than that in ten seconds are counted as 10 000).
 */
const windowMs = 10_000;
const maxTracked = 10_000;
const maxKeyLength = 200;

export class Audience {
  #bytes = 0;
  /** Viewer key → last request time, ordered by that time (oldest first). */
  readonly #lastSeen = new Map<string, number>();

  get bytes(): number {
    return this.#bytes;
  }

  served(bytes: number, viewer: string, nowMs = Date.now()): void {
    this.#bytes += bytes;
    this.#forgetOld(nowMs);
    this.#seen(viewer, nowMs);
  }

  /**
   * What another counter saw (an HLS worker's report): `bytes` more, and each viewer as last seen at its time. A
   * report comes a little late, so its viewers may be filed after some seen later than them: they are then
   * forgotten up to that much late (half a second for the workers' reports).
   */
  merge(bytes: number, viewers: readonly (readonly [string, number])[], nowMs = Date.now()): void {
    this.#bytes += bytes;
    this.#forgetOld(nowMs);
    const byTime = [...viewers].sort((a, b) => a[1] - b[1]);
    for (const [viewer, seenMs] of byTime) if (nowMs - seenMs <= windowMs) this.#seen(viewer, seenMs);
  }

  #seen(viewer: string, atMs: number): void {
    const key = viewer.slice(0, maxKeyLength);
    const last = this.#lastSeen.get(key);
    if (last !== undefined && last >= atMs) return;
    const known = this.#lastSeen.delete(key);
    if (known || this.#lastSeen.size < maxTracked) this.#lastSeen.set(key, atMs);
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
