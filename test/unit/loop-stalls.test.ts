/**
 * LoopStalls on a made-up clock: the timer's ticks are given by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoopStalls } from '../../src/lib/loop-stalls.ts';

/** A monitor whose timer ran at each of `ticks` (ms), 20 ms apart when on time. */
function monitor(ticks: number[]): LoopStalls {
  const stalls = new LoopStalls({ intervalMs: 20, thresholdMs: 30, keepMs: 60_000 });
  for (const tick of ticks) stalls.tick(tick);
  return stalls;
}

const every20 = (from: number, to: number): number[] => {
  const ticks: number[] = [];
  for (let t = from; t <= to; t += 20) ticks.push(t);
  return ticks;
};

describe('LoopStalls', () => {
  test('a timer on time (jitter under 30 ms) is no stall', () => {
    const stalls = monitor([0, 20, 45, 60, 100, 120]);
    assert.equal(stalls.stalledMsBetween(0, 120), 0);
  });

  test('a tick 500 ms late: the loop was held up from when it was due to when it ran', () => {
    const stalls = monitor([...every20(0, 1000), 1520, ...every20(1540, 3000)]);
    assert.equal(stalls.stalledMsBetween(0, 3000), 500);
    assert.equal(stalls.stalledMsBetween(1200, 1300), 100, 'the part inside the window');
    assert.equal(stalls.stalledMsBetween(1600, 3000), 0);
  });

  test('a stall still going (packets read before the late timer) counts up to the time asked about', () => {
    const stalls = monitor(every20(0, 1000));
    assert.equal(stalls.stalledMsBetween(900, 1010), 0, 'not yet due');
    assert.equal(stalls.stalledMsBetween(900, 1800), 780);
  });

  test('stalls older than keepMs are forgotten', () => {
    const stalls = monitor([0, 520, ...every20(540, 70_000)]);
    assert.equal(stalls.stalledMsBetween(0, 70_000), 0);
  });
});
