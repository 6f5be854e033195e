/**
 * DecoderLag on made-up times: pictures written 33 ms apart at 30 fps, outputs as ffmpeg gives them (two pictures
 * held back, each output frame showing the inputs of its frame interval).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecoderLag } from '../../src/media/decoder-lag.ts';

const frameMs = 1000 / 30;

function assertNear(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-6, `${actual}, expected ${expected}`);
}

describe('DecoderLag', () => {
  test('a decoder that answers each picture once two more are written is never behind', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i < 100; i++) {
      const now = 1000 + i * frameMs;
      lag.written(i * frameMs, now);
      if (i >= 2) lag.output((i - 2) * frameMs);
      assert.equal(lag.lagMs(now + 5), 0, `picture ${i}`);
    }
  });

  test('an output frame takes the inputs of its interval: a picture at 1316 ms is out with the frame at 1300', () => {
    const lag = new DecoderLag({ frameMs });
    for (const [i, timeMs] of [1316, 1365, 1415, 1466].entries()) lag.written(timeMs, i * 50);
    assert.equal(lag.lagMs(200), 100);
    lag.output(1300);
    assert.equal(lag.lagMs(200), 50);
  });

  test('an output frame with no picture of its own is a repeat: a 15 fps publisher on a 30 fps canvas', () => {
    const lag = new DecoderLag({ frameMs });
    // Pictures at 0, 66.7, 133.3 … ms: output frames 0, 2, 4 … hold them; 1, 3, 5 … repeat the one before.
    for (let i = 0; i < 10; i++) lag.written(i * 2 * frameMs, i * 2 * frameMs);
    const fresh = Array.from({ length: 16 }, (_, frame) => lag.output(frame * frameMs));
    assert.deepEqual(
      fresh,
      Array.from({ length: 16 }, (_, frame) => frame % 2 === 0),
    );
  });

  test('pictures squeezed into one output frame make it fresh once; the gap after a pause repeats', () => {
    const lag = new DecoderLag({ frameMs });
    for (const timeMs of [0, 1, 2, 3, 200]) lag.written(timeMs, timeMs);
    assert.equal(lag.output(0), true);
    for (let frame = 1; frame < 6; frame++)
      assert.equal(lag.output(frame * frameMs), false, `frame ${frame}`);
    assert.equal(lag.output(6 * frameMs), true, 'the picture at 200 ms');
  });

  test('pictures held for later ones are not lag, however long those take', () => {
    const lag = new DecoderLag({ frameMs });
    lag.written(0, 1000);
    lag.written(frameMs, 1033);
    assert.equal(lag.lagMs(9000), 0);
    lag.written(8000, 9000);
    assert.equal(lag.lagMs(9010), 10);
    lag.output(0);
    assert.equal(lag.lagMs(9500), 0);
  });

  test('a decoder that stops answering: the lag is the age of the oldest picture ready to come out', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i <= 60; i++) lag.written(i * frameMs, 1000 + i * frameMs);
    // Picture 0 was ready when picture 2 was written.
    assertNear(lag.lagMs(1000 + 60 * frameMs), 58 * frameMs);
    // An output up to frame 30 leaves 31 the oldest: ready since 33 was written.
    lag.output(30 * frameMs);
    assertNear(lag.lagMs(1000 + 60 * frameMs), 27 * frameMs);
  });

  test('a gap in the input (video dropped until a keyframe) is not lag', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i < 10; i++) {
      lag.written(i * frameMs, 1000 + i * frameMs);
      if (i >= 2) lag.output((i - 2) * frameMs);
    }
    // Pictures 10 to 159 dropped; the keyframe at 160 is written 5 s on, then 161.
    const resumedAt = 1000 + 160 * frameMs;
    lag.written(160 * frameMs, resumedAt);
    lag.written(161 * frameMs, resumedAt + frameMs);
    // Pictures 8 and 9 were held; they were ready to come out once the keyframe was written.
    assertNear(lag.lagMs(resumedAt + 40), 40);
    lag.output(159 * frameMs);
    assert.equal(lag.lagMs(resumedAt + 40), 0);
  });

  test('pictures squeezed into one output frame (video moved back) count once', () => {
    const lag = new DecoderLag({ frameMs });
    // As measured with ffmpeg: after 1749 (frame 52), seven pictures 1 ms apart; the output stayed at frame 49.
    const times = [1648, 1699, 1749, 1750, 1751, 1752, 1753, 1754, 1755, 1756];
    times.forEach((timeMs, index) => {
      lag.written(timeMs, 1000 + index * 50);
    });
    lag.output(49 * frameMs);
    // 1699 (frame 50) waits for pictures of two later frames; 1749 to 1756 are all of frame 52.
    assert.equal(lag.lagMs(3000), 0);
    // A picture of frame 64: 1699 was ready from then, and was let out (the output jumped to frame 61).
    lag.written(2146, 3000);
    assert.equal(lag.lagMs(3100), 100);
    lag.output(61 * frameMs);
    assert.equal(lag.lagMs(3100), 0);
  });

  test('reset forgets every picture (a new decoder)', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i < 3; i++) lag.written(i * frameMs, i * frameMs);
    assert.ok(lag.lagMs(5000) > 4000);
    lag.reset();
    assert.equal(lag.lagMs(5000), 0);
  });

  test('a decoder that never answers: memory is bounded, the lag stays over', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i < 10_000; i++) lag.written(i * frameMs, i * frameMs);
    // The 900 newest are tracked: the oldest of them became ready 898 frames ago.
    assertNear(lag.lagMs(10_000 * frameMs), 898 * frameMs);
  });

  test('time this process was held up is left out of the lag', () => {
    const lag = new DecoderLag({ frameMs });
    for (let i = 0; i < 3; i++) lag.written(i * frameMs, 1000 + i * frameMs);
    // Ready since picture 2 was written (1066.7); held up 1500 ms of the 2000 since.
    const stalled = (fromMs: number, toMs: number): number => {
      assertNear(fromMs, 1000 + 2 * frameMs);
      assert.equal(toMs, 3066);
      return 1500;
    };
    assertNear(lag.lagMs(3066, stalled), 2000 - 1500 - 0.6666666);
    assert.equal(
      lag.lagMs(3066, () => 9999),
      0,
    );
  });
});
