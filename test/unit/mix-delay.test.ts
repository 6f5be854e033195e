/**
 * The mixer's delay following what arrivals need: up at once, down slowly, within its bounds. Pure; arrivals are
 * simulated at 30 a second, each `lateMs` after its due time on the undelayed channel clock (negative: early).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultMixDelayOptions, MixDelay, type MixDelayOptions } from '../../src/media/mix-delay.ts';

const options: MixDelayOptions = { ...defaultMixDelayOptions, maxMs: 200, minMs: 0 };
const { marginMs, windowMs, downMsPerSecond } = defaultMixDelayOptions;

/** Feeds arrivals from `fromMs` to `toMs` (monotonic = channel clock here), updating as the mixer does. */
function feed(delay: MixDelay, fromMs: number, toMs: number, lateMs: (atMs: number) => number): void {
  for (let at = fromMs; at < toMs; at += 1000 / 30) {
    delay.arrived(at - lateMs(at), at, at);
    delay.update(at);
  }
}

describe('MixDelay', () => {
  test('starts at the most; with everything 60 ms early it comes down at 20 ms a second, to the least', () => {
    const delay = new MixDelay(options);
    assert.equal(delay.delayMs, 200);
    feed(delay, 0, 5000, () => -60);
    assert.ok(Math.abs(delay.delayMs - (200 - downMsPerSecond * 5)) < 1, `${delay.delayMs} at 5 s`);
    feed(delay, 5000, 12_000, () => -60);
    assert.equal(delay.delayMs, 0);
  });

  test('settles where the latest arrival needs it, margin included, and no lower', () => {
    const delay = new MixDelay(options);
    // Most come 20 ms late; one in thirty 50 ms late (a keyframe paced out).
    feed(delay, 0, 20_000, (at) => (Math.round(at / (1000 / 30)) % 30 === 0 ? 50 : 20));
    assert.ok(Math.abs(delay.delayMs - (50 + marginMs)) < 1e-6, `${delay.delayMs}`);
  });

  test('one arrival much later raises it at once; it comes down again once that leaves the window', () => {
    const delay = new MixDelay(options);
    feed(delay, 0, 15_000, () => 0);
    assert.equal(delay.delayMs, marginMs);
    delay.arrived(15_000 - 150, 15_000, 15_000);
    assert.equal(delay.update(15_001), 150 + marginMs, 'up at the next update');
    feed(delay, 15_001, 15_000 + windowMs - 100, () => 0);
    assert.equal(delay.delayMs, 150 + marginMs, 'held while it is in the window');
    feed(delay, 15_000 + windowMs - 100, 15_000 + windowMs + 3000, () => 0);
    assert.ok(delay.delayMs < 150 + marginMs - 40, `coming down: ${delay.delayMs}`);
    feed(delay, 15_000 + windowMs + 3000, 15_000 + windowMs + 10_000, () => 0);
    assert.equal(delay.delayMs, marginMs);
  });

  test('never past the most, never below the least; equal bounds are a fixed delay', () => {
    const capped = new MixDelay(options);
    feed(capped, 0, 3000, () => 900);
    assert.equal(capped.delayMs, 200);
    const floored = new MixDelay({ ...options, minMs: 80 });
    feed(floored, 0, 20_000, () => -500);
    assert.equal(floored.delayMs, 80);
    const fixed = new MixDelay({ ...options, minMs: 200 });
    feed(fixed, 0, 20_000, () => -500);
    assert.equal(fixed.delayMs, 200);
    const above = new MixDelay({ ...options, minMs: 300 });
    feed(above, 0, 20_000, () => -500);
    assert.equal(above.delayMs, 200, 'a least above the most: the most throughout');
    feed(above, 20_000, 25_000, () => 900);
    assert.equal(above.delayMs, 200);
  });

  test('with nothing arriving (the slate) it stays where it is', () => {
    const delay = new MixDelay(options);
    feed(delay, 0, 4000, () => -100);
    const before = delay.delayMs;
    assert.equal(delay.update(60_000), before);
  });
});
