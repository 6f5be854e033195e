/**
 * Raw pictures reused instead of collected. A 640x480 picture is 460 kB and a channel makes 30 a second; allocated
 * afresh, they kept V8's garbage collector busier than the rest of the server (measured with one channel: 22 full
 * collections in 10 s, 0.1 cores of GC threads out of 0.23 for the whole process).
 *
 * A pool's picture is counted: whoever keeps it past the call it was handed in (a mixer's queue, a write to the
 * encoder still in flight) holds it with `holdPicture` and lets it go with `releasePicture`; the last release
 * returns it to its pool. A picture that did not come from a pool (the slate, pictures made in tests) is left to
 * the garbage collector, so both functions may be called with any picture.
 */
import { mediaCounters } from './media-counters.ts';

interface Held {
  pool: PicturePool;
  holders: number;
}

const held = new WeakMap<Uint8Array, Held>();

export interface PicturePoolStats {
  /** Pictures allocated over the pool's life. */
  allocated: number;
  /** Pictures handed out again from the pool. */
  reused: number;
  /** Pictures waiting in the pool. */
  spare: number;
  /** Pictures returned when the pool already had its most spare ones, left to the collector. */
  dropped: number;
}

export class PicturePool {
  readonly bytes: number;
  readonly #maxSpare: number;
  readonly #spare: Uint8Array[] = [];
  #allocated = 0;
  #reused = 0;
  #dropped = 0;

  /** `maxSpare`: the most released pictures kept; more are left to the collector (after a burst). */
  constructor(bytes: number, maxSpare = 16) {
    this.bytes = bytes;
    this.#maxSpare = maxSpare;
  }

  /** A picture held once, by the caller. Its bytes are whatever its last user left. */
  take(): Uint8Array {
    let picture = this.#spare.pop();
    if (picture === undefined) {
      picture = new Uint8Array(this.bytes);
      this.#allocated += 1;
    } else {
      this.#reused += 1;
    }
    held.set(picture, { pool: this, holders: 1 });
    return picture;
  }

  stats(): PicturePoolStats {
    return {
      allocated: this.#allocated,
      reused: this.#reused,
      spare: this.#spare.length,
      dropped: this.#dropped,
    };
  }

  /** Takes back a picture nobody holds any more (it stays known, held by none, while spare). */
  giveBack(picture: Uint8Array): void {
    if (this.#spare.length < this.#maxSpare) {
      this.#spare.push(picture);
    } else {
      held.delete(picture);
      this.#dropped += 1;
    }
  }
}

/** One more holder of `picture`. */
export function holdPicture(picture: Uint8Array): void {
  const entry = held.get(picture);
  if (entry !== undefined) entry.holders += 1;
}

/** One holder fewer; the last returns the picture to its pool. */
export function releasePicture(picture: Uint8Array): void {
  const entry = held.get(picture);
  if (entry === undefined) return;
  if (entry.holders <= 0) {
    mediaCounters.picturesReleasedUnheld += 1;
    return;
  }
  entry.holders -= 1;
  if (entry.holders === 0) entry.pool.giveBack(picture);
}
