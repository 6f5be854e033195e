/**
 * Cuts a byte stream (an ffmpeg pipe) into fixed-size raw frames without copying more than one frame's worth.
 */
export class FixedFrameReader {
  readonly #frameBytes: number;
  #partial: Uint8Array;
  #filled = 0;

  constructor(frameBytes: number) {
    this.#frameBytes = frameBytes;
    this.#partial = new Uint8Array(frameBytes);
  }

  /** Returns the frames completed by this chunk (each a fresh buffer the caller may keep). */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#frameBytes - this.#filled, chunk.length - offset);
      this.#partial.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === this.#frameBytes) {
        frames.push(this.#partial);
        this.#partial = new Uint8Array(this.#frameBytes);
        this.#filled = 0;
      }
    }
    return frames;
  }
}
