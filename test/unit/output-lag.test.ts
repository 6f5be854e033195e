/**
 * OutputLag on made-up times: pictures written 33 ms apart, parts of 200 ms coming out as an encoder gives them
 * (a part once a picture past its end is written).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutputLag } from '../../src/media/output-lag.ts';

const frameMs = 1000 / 30;

describe('OutputLag', () => {
  test('an encoder that turns out each part once the next picture is in is never behind more than a part', () => {
    const lag = new OutputLag();
    let worst = 0;
    let producedMs = 0;
    for (let i = 0; i < 300; i++) {
      const timeMs = i * frameMs;
      const now = 5000 + timeMs;
      lag.written(timeMs, now);
      while (timeMs >= producedMs + 200) {
        producedMs += 200;
        lag.produced(producedMs);
      }
      worst = Math.max(worst, lag.lagMs(now + 20));
    }
    assert.ok(worst > 150 && worst <= 220, `worst lag ${worst} ms`);
  });

  test('a burst of media far beyond the output is not lag while the encoder keeps up', () => {
    const lag = new OutputLag();
    for (let i = 0; i < 6; i++) lag.written(i * frameMs, 1000 + i * frameMs);
    lag.produced(200);
    // 1.5 s of pictures written at once (the receiving process was held up), 200 ms after the last.
    for (let i = 6; i < 51; i++) lag.written(i * frameMs, 1400);
    assert.equal(lag.lagMs(1400), 0);
    assert.equal(lag.lagMs(1500), 100);
    // The encoder turns them out within moments: only the newest part's pictures still wait.
    lag.produced(1600);
    assert.equal(lag.lagMs(1600), 200);
  });

  test('an encoder that stops turning out parts falls further behind as time passes', () => {
    const lag = new OutputLag();
    lag.written(0, 1000);
    lag.written(frameMs, 1033);
    assert.equal(lag.lagMs(1000), 0);
    assert.equal(lag.lagMs(4000), 3000);
    lag.produced(frameMs);
    assert.equal(lag.lagMs(4000), 2967);
    lag.produced(1000);
    assert.equal(lag.lagMs(4000), 0);
  });

  test('time the process itself was held up does not count', () => {
    const lag = new OutputLag();
    lag.written(0, 1000);
    const stalled = (fromMs: number, toMs: number): number => {
      assert.deepEqual([fromMs, toMs], [1000, 3000]);
      return 1500;
    };
    assert.equal(lag.lagMs(3000, stalled), 500);
    assert.equal(
      lag.lagMs(3000, () => 5000),
      0,
    );
  });

  test('a long backlog is bounded to its newest pictures, and produced() never goes back', () => {
    const lag = new OutputLag();
    for (let i = 0; i < 2000; i++) lag.written(i * 10, i * 10);
    lag.produced(19_000);
    lag.produced(5000);
    assert.equal(lag.lagMs(20_000), 1000);
    lag.produced(Number.POSITIVE_INFINITY);
    assert.equal(lag.lagMs(20_000), 0);
  });
});
