/**
 * The /watch page's way to its target latency: a move when playback begins (forward only, past a threshold, only
 * into what is already buffered), then playing faster while well behind (only with enough buffered ahead).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bufferedAhead,
  catchUp,
  catchUpRate,
  startCatchUpPosition,
  startCatchUpSeconds,
  type BufferedRanges,
  type CatchUpState,
  type StartState,
} from '../../web/src/watch/live-edge.ts';

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

describe('catchUpRate', () => {
  // Playing 0.7 s beyond a 0.6 s target with 1 s buffered ahead: what the page saw when its start move missed.
  const behind: CatchUpState = { latencySeconds: 1.3, targetSeconds: 0.6, bufferedAheadSeconds: 1, rate: 1 };

  test('well behind the target with enough buffered: plays faster', () => {
    assert.equal(catchUpRate(behind), catchUp.rate);
  });

  test('starts past startSeconds and goes on until within stopSeconds (no flapping at one threshold)', () => {
    const at = (excess: number, rate: number) =>
      catchUpRate({ ...behind, latencySeconds: 0.6 + excess, rate });
    assert.equal(at(catchUp.startSeconds - 0.01, 1), 1, 'not started yet');
    assert.equal(at(catchUp.startSeconds + 0.01, 1), catchUp.rate, 'starts');
    assert.equal(at(catchUp.stopSeconds + 0.01, catchUp.rate), catchUp.rate, 'goes on');
    assert.equal(at(catchUp.stopSeconds - 0.01, catchUp.rate), 1, 'stops');
  });

  test('too little buffered ahead: never faster, however far behind', () => {
    assert.equal(catchUpRate({ ...behind, bufferedAheadSeconds: catchUp.minBufferSeconds }), 1);
    assert.equal(
      catchUpRate({ ...behind, latencySeconds: 2, bufferedAheadSeconds: 0.1, rate: catchUp.rate }),
      1,
    );
  });

  test('at or ahead of the target, and unknown values (NaN), play at 1', () => {
    assert.equal(catchUpRate({ ...behind, latencySeconds: 0.6 }), 1);
    assert.equal(catchUpRate({ ...behind, latencySeconds: 0.4, rate: catchUp.rate }), 1);
    assert.equal(catchUpRate({ ...behind, latencySeconds: Number.NaN }), 1);
    assert.equal(catchUpRate({ ...behind, bufferedAheadSeconds: Number.NaN }), 1);
  });

  test('further behind than a viewer drifts (a rewind, a long pause): left alone, at 1', () => {
    const rewound = {
      ...behind,
      latencySeconds: 0.6 + catchUp.maxBehindSeconds + 0.5,
      bufferedAheadSeconds: 10,
    };
    assert.equal(catchUpRate(rewound), 1);
    assert.equal(catchUpRate({ ...rewound, rate: catchUp.rate }), 1);
    assert.equal(
      catchUpRate({ ...rewound, latencySeconds: 0.6 + catchUp.maxBehindSeconds - 0.5 }),
      catchUp.rate,
    );
  });
});

describe('bufferedAhead', () => {
  test('to the end of the range holding the time; 0 in a gap or past the end', () => {
    const buffered = ranges([8, 8.6], [8.9, 9.2]);
    assert.ok(Math.abs(bufferedAhead(buffered, 8.25) - 0.35) < 1e-9);
    assert.ok(Math.abs(bufferedAhead(buffered, 9) - 0.2) < 1e-9);
    assert.equal(bufferedAhead(buffered, 8.7), 0);
    assert.equal(bufferedAhead(buffered, 9.2), 0);
    assert.equal(bufferedAhead(ranges(), 1), 0);
  });
});
