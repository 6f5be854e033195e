/**
 * Request ids for X-Request-Id and the log: a random prefix per process and a counter, unique across restarts in
 * practice and cheap enough for every HLS request (16 random bytes per request cost the origin a twentieth of
 * its time under load). They name a request; they are not secrets.
 */
import { randomBytes } from 'node:crypto';

export class RequestIds {
  readonly #prefix = randomBytes(4).toString('hex');
  #count = 0;

  /** 16 hex digits: the process's 8, then the count's. */
  next(): string {
    this.#count = (this.#count + 1) % 2 ** 32;
    return `${this.#prefix}${this.#count.toString(16).padStart(8, '0')}`;
  }
}
