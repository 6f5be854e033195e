/**
 * MPEG-TS twins of the CMAF segments, for players without fMP4: remuxed (no transcoding) on first request and
 * kept as long as the segment itself is (a WeakMap on its bytes, which the packager drops when the segment leaves
 * the window). A segment that cannot be remuxed is remembered as such (answered 404 without trying again) and
 * counted in `failures`.
 */
import { ParseError } from '../rtp/parse-error.ts';
import { remuxSegmentToTs, tsConfigFromInit, type TsRemuxConfig } from '../hls/format/mpegts.ts';

/** Added to every timestamp: audio priming never makes a time negative. */
const offsetSeconds = 10;

export class TsSegments {
  readonly #configs = new WeakMap<Uint8Array, TsRemuxConfig>();
  /** TS bytes, or null for a segment that could not be remuxed. */
  readonly #segments = new WeakMap<Uint8Array, Uint8Array | null>();
  #failures = 0;

  get failures(): number {
    return this.#failures;
  }

  /** The segment (its CMAF bytes, and its init's) as MPEG-TS; undefined when it cannot be read. */
  get(init: Uint8Array, segment: Uint8Array): Uint8Array | undefined {
    const cached = this.#segments.get(segment);
    if (cached !== undefined) return cached ?? undefined;
    try {
      let config = this.#configs.get(init);
      if (config === undefined) {
        config = tsConfigFromInit(init);
        this.#configs.set(init, config);
      }
      const ts = remuxSegmentToTs(config, segment, offsetSeconds);
      this.#segments.set(segment, ts);
      return ts;
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.#failures += 1;
      this.#segments.set(segment, null);
      return undefined;
    }
  }
}
