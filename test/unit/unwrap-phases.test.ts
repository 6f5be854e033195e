import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unwrapPhases } from '../helpers/hls-media.ts';

test('unwrapPhases: beeps either side of the period boundary read as neighbours (the impaired-network CI failure of these phases)', () => {
  const phases = [0.007, 0.012, 0.167, 0.992, 0.992, 0.992, 0.992, 0.997, 0.997];
  const unwrapped = unwrapPhases(phases, 1);
  assert.deepEqual(
    unwrapped.map((p) => Number(p.toFixed(3))),
    [0.992, 0.992, 0.992, 0.992, 0.997, 0.997, 1.007, 1.012, 1.167],
  );
});

test('unwrapPhases: phases away from the boundary stay as they are, sorted', () => {
  assert.deepEqual(unwrapPhases([0.52, 0.5, 0.51, 0.9], 1), [0.5, 0.51, 0.52, 0.9]);
  assert.deepEqual(unwrapPhases([0.3], 1), [0.3]);
  assert.deepEqual(unwrapPhases([], 1), []);
});
