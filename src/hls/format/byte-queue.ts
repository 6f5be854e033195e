/**
 * A FIFO of byte chunks read from a stream. It keeps views of the pushed chunks (no copy on push) and copies bytes
 * out exactly once, when a whole unit is taken. The chunks are never written; a caller must not reuse a chunk's
 * memory while the queue still holds it (Node stream chunks are never reused).
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** Index of the first chunk still held; the array is compacted now and then instead of shifted per chunk. */
  #first = 0;
  /** Bytes of `#chunks[#first]` already consumed. */
  #head = 0;
  #length = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Copies up to `count` bytes starting `offset` bytes from the front, without consuming them. */
  peek(offset: number, count: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(count, this.#length - offset)));
    this.#copy(offset, out);
    return out;
  }

  /** Removes the first `count` bytes (at most `length`) and returns them as one new array. */
  take(count: number): Uint8Array {
    const out = new Uint8Array(Math.min(count, this.#length));
    this.#copy(0, out);
    this.skip(out.length);
    return out;
  }

  /** Removes the first `count` bytes (at most `length`) without copying them. */
  skip(count: number): void {
    let left = Math.min(count, this.#length);
    this.#length -= left;
    while (left > 0) {
      const first = this.#chunks[this.#first];
      if (first === undefined) break;
      const available = first.length - this.#head;
      if (left < available) {
        this.#head += left;
        break;
      }
      left -= available;
      this.#first += 1;
      this.#head = 0;
    }
    if (this.#length === 0) {
      this.#chunks = [];
      this.#first = 0;
      this.#head = 0;
    } else if (this.#first > 64 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }

  /** Copies `out.length` bytes starting `offset` bytes from the front into `out`. */
  #copy(offset: number, out: Uint8Array): void {
    let skip = offset + this.#head;
    let written = 0;
    for (let i = this.#first; i < this.#chunks.length && written < out.length; i++) {
      const chunk = this.#chunks[i];
      if (chunk === undefined) break;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const piece = chunk.subarray(skip, skip + out.length - written);
      out.set(piece, written);
      written += piece.length;
      skip = 0;
    }
  }
}
