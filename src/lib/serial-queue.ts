/**
 * Runs async tasks one at a time, in order. Used as the single writer of a channel's state, so that joins,
 * leaves and re-offers never interleave across awaits. A failing task does not stop the queue.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  run<T>(task: () => Promise<T> | T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('queue closed'));
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Refuses new tasks; resolves when the ones already queued have run. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
  }
}
