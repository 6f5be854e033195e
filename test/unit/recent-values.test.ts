import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentilesOf, RecentValues } from '../../src/lib/recent-values.ts';

test('keeps only the last values: older ones fall out as new ones come', () => {
  const recent = new RecentValues(3);
  assert.equal(recent.size, 0);
  for (const value of [1, 20, 3, 100, 5]) recent.add(value);
  assert.equal(recent.size, 3);
  assert.deepEqual(
    [...recent.values()].sort((a, b) => a - b),
    [3, 5, 100],
  );
});

test('nearest-rank percentiles: the minimum at 0, the median, the maximum at 100', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
  assert.deepEqual(percentilesOf(values, [0, 1, 5, 50, 99, 100]), [1, 1, 5, 50, 99, 100]);
  assert.deepEqual(percentilesOf([-20, 7], [0, 50, 100]), [-20, -20, 7]);
  assert.equal(percentilesOf([], [50]), undefined);
});

test('a capacity that cannot hold a value is refused', () => {
  assert.throws(() => new RecentValues(0), RangeError);
  assert.throws(() => new RecentValues(2.5), RangeError);
});
