/**
 * Turns the sum of several publishers' s16 audio into s16 without clipping: a peak limiter that works on whole
 * blocks (one mixer tick), so it sees the block's peak before it plays a sample of it. When a block would pass
 * the ceiling, the gain falls to exactly what fits at the start of that block; afterwards it recovers smoothly
 * towards 1 (about 6 dB a second), ramped sample by sample and never above what the block allows. The ceiling is
 * 1 dB below full scale by default, headroom for the AAC encoder, whose decoded output overshoots a little. A
 * publisher below the ceiling passes unchanged (gain 1).
 */

/** −1 dBFS. */
export const defaultCeiling = 29_204;

export interface LimiterStats {
  /** Blocks whose gain was below 1. */
  limitedBlocks: number;
  /** The lowest gain applied so far. */
  minGain: number;
}

export class AudioLimiter {
  readonly #sampleRate: number;
  readonly #recoveryPerSecond: number;
  readonly #ceiling: number;
  #gain = 1;
  readonly #stats: LimiterStats = { limitedBlocks: 0, minGain: 1 };

  /**
   * `recoveryPerSecond`: how much the gain may grow in a second (2 ≈ 6 dB); `ceiling`: the largest magnitude
   * let out (at most 32767).
   */
  constructor(sampleRate: number, recoveryPerSecond = 2, ceiling = defaultCeiling) {
    this.#sampleRate = sampleRate;
    this.#recoveryPerSecond = recoveryPerSecond;
    this.#ceiling = Math.min(32_767, ceiling);
  }

  get gain(): number {
    return this.#gain;
  }

  stats(): LimiterStats {
    return { ...this.#stats };
  }

  /** The block of summed samples (any channel layout; `frames` sample frames) as s16. */
  process(mix: Int32Array, frames: number): Int16Array {
    let peak = 0;
    for (const sample of mix) {
      const magnitude = sample < 0 ? -sample : sample;
      if (magnitude > peak) peak = magnitude;
    }
    const allowed = peak > this.#ceiling ? this.#ceiling / peak : 1;
    const start = Math.min(this.#gain, allowed);
    const seconds = frames / this.#sampleRate;
    const end = Math.min(allowed, 1, start * this.#recoveryPerSecond ** seconds);
    const out = new Int16Array(mix.length);
    if (start === 1 && end === 1) {
      for (let i = 0; i < mix.length; i++) out[i] = mix[i] ?? 0;
    } else {
      const channels = frames === 0 ? 1 : mix.length / frames;
      for (let frame = 0; frame < frames; frame++) {
        const gain = start + ((end - start) * frame) / frames;
        for (let channel = 0; channel < channels; channel++) {
          const index = frame * channels + channel;
          // Truncation towards zero keeps |sample × gain| ≤ ceiling whenever gain ≤ ceiling/peak.
          out[index] = Math.trunc((mix[index] ?? 0) * gain);
        }
      }
      this.#stats.limitedBlocks += 1;
      this.#stats.minGain = Math.min(this.#stats.minGain, start);
    }
    this.#gain = end;
    return out;
  }
}
