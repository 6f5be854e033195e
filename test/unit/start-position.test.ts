/**
 * The /watch page's move to the target latency when playback begins: forward only, past a threshold, and only
 * into what is already buffered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  startCatchUpPosition,
  startCatchUpSeconds,
  type BufferedRanges,
  type StartState,
} from '../../web/src/watch/start-position.ts';

/** TimeRanges made of [start, end] pairs. */
function ranges(...pairs: [number, number][]): BufferedRanges {
  return {
    length: pairs.length,
    start: (index) => pairs[index]?.[0] ?? Number.NaN,
    end: (index) => pairs[index]?.[1] ?? Number.NaN,
  };
}

// As measured: hls.js begins at 8.428 with the edge near 9.3 (0.9 s behind), its target 0.6 s, 8.0–9.2 buffered.
const begun: StartState = {
  latency: 0.907,
  targetLatency: 0.6,
  targetPosition: 8.74,
  currentTime: 8.447,
  buffered: ranges([8, 9.2]),
};

describe('startCatchUpPosition', () => {
  test('playback begun 0.3 s beyond its target moves to the target', () => {
    assert.equal(startCatchUpPosition(begun), 8.74);
  });

  test('within the threshold it stays', () => {
    assert.equal(startCatchUpPosition({ ...begun, latency: 0.6 + startCatchUpSeconds - 0.001 }), undefined);
    assert.equal(startCatchUpPosition({ ...begun, latency: 0.7 }), undefined);
  });

  test('never backwards: a target behind the current time is ignored', () => {
    assert.equal(startCatchUpPosition({ ...begun, targetPosition: 8.4 }), undefined);
  });

  test('only into a buffered range: not past its end, not into a gap', () => {
    assert.equal(startCatchUpPosition({ ...begun, targetPosition: 9.2 }), undefined);
    assert.equal(startCatchUpPosition({ ...begun, buffered: ranges([8, 8.6], [8.9, 9.2]) }), undefined);
    assert.equal(startCatchUpPosition({ ...begun, buffered: ranges([8, 8.6], [8.7, 9.2]) }), 8.74);
    assert.equal(startCatchUpPosition({ ...begun, buffered: ranges() }), undefined);
  });

  test('values a player reports before it knows them (NaN) never move it', () => {
    assert.equal(startCatchUpPosition({ ...begun, latency: Number.NaN }), undefined);
    assert.equal(startCatchUpPosition({ ...begun, targetPosition: Number.NaN }), undefined);
  });
});
