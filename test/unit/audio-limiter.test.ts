/**
 * The limiter on what the mixer gives it: 48 kHz interleaved stereo in blocks of 1600 frames (one tick at 30 fps).
 * Two loud tones summed never wrap or pass the ceiling and both stay audible; the gain recovers at the stated
 * rate afterwards; a single source below the ceiling passes bit-exactly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AudioLimiter, defaultCeiling } from '../../src/media/audio-limiter.ts';

const sampleRate = 48_000;
const channels = 2;
const blockFrames = 1600;
const fullScale = 32767;

interface Tone {
  frequencyHz: number;
  /** Peak level as a fraction of full scale. */
  level: number;
}

/** `frames` stereo frames from `firstFrame` of the tones summed (each rounded to s16 first, as decoders give it). */
function mixBlock(tones: readonly Tone[], firstFrame: number, frames = blockFrames): Int32Array {
  const mix = new Int32Array(frames * channels);
  for (let frame = 0; frame < frames; frame++) {
    const t = (firstFrame + frame) / sampleRate;
    let sum = 0;
    for (const { frequencyHz, level } of tones) {
      sum += Math.round(level * fullScale * Math.sin(2 * Math.PI * frequencyHz * t));
    }
    mix[frame * channels] = sum;
    // The right channel in opposite phase, so both signs of every sample are exercised.
    mix[frame * channels + 1] = -sum;
  }
  return mix;
}

/** The amplitude of `frequencyHz` in the left channel of `interleaved` (Goertzel; exact for a whole bin). */
function amplitudeAt(interleaved: ArrayLike<number>, frequencyHz: number): number {
  const n = interleaved.length / channels;
  const coefficient = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (let i = 0; i < n; i++) {
    const current = (interleaved[i * channels] ?? 0) + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power =
    previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(power)) / n;
}

const peakOf = (mix: Int32Array): number => mix.reduce((peak, sample) => Math.max(peak, Math.abs(sample)), 0);

interface Block {
  input: Int32Array;
  output: Int16Array;
  gainBefore: number;
  gainAfter: number;
}

/** Runs `blocks` blocks of `tones` through `limiter`, continuing from frame `firstFrame`. */
function run(limiter: AudioLimiter, tones: readonly Tone[], blocks: number, firstFrame = 0): Block[] {
  const result: Block[] = [];
  for (let index = 0; index < blocks; index++) {
    const input = mixBlock(tones, firstFrame + index * blockFrames);
    const gainBefore = limiter.gain;
    const output = limiter.process(input, blockFrames);
    result.push({ input, output, gainBefore, gainAfter: limiter.gain });
  }
  return result;
}

const loud: Tone[] = [
  { frequencyHz: 440, level: 0.9 },
  { frequencyHz: 660, level: 0.9 },
];

describe('AudioLimiter', () => {
  test('the default ceiling is −1 dBFS', () => {
    const dBFS = 20 * Math.log10(defaultCeiling / fullScale);
    assert.ok(Math.abs(dBFS + 1) < 0.001, `${dBFS} dBFS`);
  });

  for (const ceiling of [defaultCeiling, fullScale]) {
    test(`ceiling ${ceiling}, two 0.9 FS tones summed: every sample scaled by the block’s ramped gain, none wraps or passes the ceiling`, () => {
      const limiter = new AudioLimiter(sampleRate, 2, ceiling);
      const blocks = run(limiter, loud, 90);
      let outputPeak = 0;
      let overCeiling = 0;
      for (const [index, { input, output, gainBefore, gainAfter }] of blocks.entries()) {
        const peak = peakOf(input);
        assert.ok(peak > fullScale * 1.5, `block ${index} is loud (${peak})`);
        const allowed = Math.min(1, ceiling / peak);
        // The gain starts at what fits this block (or lower, still recovering) and never ends above it.
        const start = Math.min(gainBefore, allowed);
        assert.ok(gainAfter <= allowed, `block ${index}: gain ${gainAfter} above ${allowed}`);
        assert.ok(gainAfter >= start, `block ${index}: gain fell within the block`);
        for (let frame = 0; frame < blockFrames; frame++) {
          const gain = start + ((gainAfter - start) * frame) / blockFrames;
          for (let channel = 0; channel < channels; channel++) {
            const at = frame * channels + channel;
            const sample = input[at]!;
            const out = output[at]!;
            assert.ok(Math.abs(out - Math.trunc(sample * gain)) <= 1, `frame ${frame}: ${out} for ${sample}`);
            // A sample that went past 16 bits would have wrapped to the other sign.
            assert.ok(
              Math.abs(out) <= Math.abs(sample) && out * sample >= 0,
              `frame ${frame} wrapped: ${out}`,
            );
            if (Math.abs(out) > ceiling) overCeiling += 1;
            outputPeak = Math.max(outputPeak, Math.abs(out));
          }
        }
      }
      assert.equal(overCeiling, 0, 'samples past the ceiling');
      // The headroom is used: the loudest sample comes close to the ceiling.
      assert.ok(outputPeak >= ceiling * 0.98, `output peak ${outputPeak}`);
      assert.equal(limiter.stats().limitedBlocks, 90);
    });
  }

  test('both tones are still there, at equal levels, with nothing new between them', () => {
    const limiter = new AudioLimiter(sampleRate);
    const blocks = run(limiter, loud, 60);
    // The last 0.1 s (4800 frames: every frequency below falls on a whole 10 Hz bin).
    const tail = new Int16Array(4800 * channels);
    blocks.slice(-3).forEach((block, index) => {
      tail.set(block.output, index * blockFrames * channels);
    });
    const gain = limiter.gain;
    assert.ok(gain > 0.4 && gain < 0.7, `steady gain ${gain}`);
    const expected = 0.9 * fullScale * gain;
    const at440 = amplitudeAt(tail, 440);
    const at660 = amplitudeAt(tail, 660);
    assert.ok(Math.abs(at440 / expected - 1) < 0.02, `440 Hz at ${at440.toFixed(0)}, expected ${expected}`);
    assert.ok(Math.abs(at660 / expected - 1) < 0.02, `660 Hz at ${at660.toFixed(0)}, expected ${expected}`);
    for (const other of [220, 550, 880, 1000, 1100]) {
      const level = amplitudeAt(tail, other);
      assert.ok(level < expected / 100, `${other} Hz at ${level.toFixed(1)}: 40 dB below the tones`);
    }
  });

  test('after the loud part stops the gain recovers at 2× a second to exactly 1, never above, then passes bit-exactly', () => {
    const limiter = new AudioLimiter(sampleRate);
    run(limiter, loud, 60);
    const lowest = limiter.gain;
    assert.ok(lowest < 0.7);
    const quiet: Tone[] = [{ frequencyHz: 440, level: 0.3 }];
    const blocks = run(limiter, quiet, 60, 60 * blockFrames);
    const perBlock = 2 ** (blockFrames / sampleRate);
    let recoveredAt: number | undefined;
    for (const [index, { input, output, gainBefore, gainAfter }] of blocks.entries()) {
      assert.ok(gainAfter <= 1, `block ${index}: gain ${gainAfter}`);
      assert.ok(gainAfter >= gainBefore, `block ${index}: the gain fell in a quiet block`);
      assert.ok(Math.abs(gainAfter - Math.min(1, lowest * perBlock ** (index + 1))) < 1e-9, `block ${index}`);
      if (gainBefore === 1) {
        assert.deepEqual(output, Int16Array.from(input), `block ${index} after recovery`);
      } else {
        for (let i = 0; i < input.length; i++) assert.ok(Math.abs(output[i]!) <= Math.abs(input[i]!));
      }
      if (gainAfter === 1) recoveredAt ??= index;
    }
    // From about 0.5 to 1 at 6 dB a second: about 1 s, 30 blocks; not at once.
    const expectedBlocks = Math.ceil(Math.log2(1 / lowest) * 30) - 1;
    assert.equal(recoveredAt, expectedBlocks);
    assert.ok(expectedBlocks >= 15, `recovered after ${expectedBlocks} blocks`);
    assert.equal(limiter.gain, 1);
  });

  test('a single source below the ceiling, peaks of ±ceiling included, passes bit-exactly with gain 1', () => {
    const limiter = new AudioLimiter(sampleRate);
    const blocks = run(limiter, [{ frequencyHz: 1000, level: 0.8 }], 30);
    const edge = new Int32Array(blockFrames * channels).map((_, i) =>
      i % 3 === 0 ? defaultCeiling : -defaultCeiling + i,
    );
    const gainBefore = limiter.gain;
    blocks.push({
      input: edge,
      output: limiter.process(edge, blockFrames),
      gainBefore,
      gainAfter: limiter.gain,
    });
    for (const { input, output, gainAfter } of blocks) {
      assert.ok(peakOf(input) <= defaultCeiling);
      assert.deepEqual(output, Int16Array.from(input));
      assert.equal(gainAfter, 1);
    }
    assert.deepEqual(limiter.stats(), { limitedBlocks: 0, minGain: 1 });
  });

  test('one sample past the ceiling is limited', () => {
    const limiter = new AudioLimiter(sampleRate);
    const output = limiter.process(Int32Array.from([defaultCeiling + 1, -100]), 1);
    assert.deepEqual([...output], [defaultCeiling, -99]);
    assert.equal(limiter.stats().limitedBlocks, 1);
  });

  const halves: [string, AudioLimiter, number][] = [
    ['default ceiling', new AudioLimiter(sampleRate), defaultCeiling],
    ['ceiling 32767', new AudioLimiter(sampleRate, 2, fullScale), fullScale],
    ['a ceiling above 32767 taken as 32767', new AudioLimiter(sampleRate, 2, 40_000), fullScale],
  ];
  for (const [what, limiter, ceiling] of halves) {
    test(`${what}: twice the ceiling in one block gives exactly half, truncated towards zero`, () => {
      const output = limiter.process(
        Int32Array.from([2 * ceiling, -2 * ceiling, 30001, -30001, 3, -3, 0, 1]),
        4,
      );
      assert.deepEqual([...output], [ceiling, -ceiling, 15000, -15000, 1, -1, 0, 0]);
      assert.equal(limiter.gain, 0.5);
      assert.deepEqual(limiter.stats(), { limitedBlocks: 1, minGain: 0.5 });
    });
  }

  test('stats count every block with a gain below 1 and the lowest gain applied', () => {
    const limiter = new AudioLimiter(sampleRate);
    const quiet: Tone[] = [{ frequencyHz: 440, level: 0.2 }];
    const louder: Tone[] = [
      { frequencyHz: 440, level: 0.9 },
      { frequencyHz: 660, level: 0.9 },
      { frequencyHz: 880, level: 0.5 },
    ];
    const blocks = [
      ...run(limiter, quiet, 5, 0),
      ...run(limiter, loud, 10, 5 * blockFrames),
      ...run(limiter, louder, 3, 15 * blockFrames),
      ...run(limiter, quiet, 45, 18 * blockFrames),
    ];
    let limited = 0;
    let minGain = 1;
    for (const { input, gainBefore, gainAfter } of blocks) {
      const start = Math.min(gainBefore, defaultCeiling / peakOf(input));
      if (start < 1 || gainAfter < 1) limited += 1;
      minGain = Math.min(minGain, start);
    }
    assert.equal(limiter.gain, 1, 'recovered by the end');
    assert.ok(limited > 13 && limited < 13 + 45, `${limited} limited blocks`);
    assert.deepEqual(limiter.stats(), { limitedBlocks: limited, minGain });
    assert.ok(minGain < 0.5, `the three tones took the gain to ${minGain}`);
  });
});
