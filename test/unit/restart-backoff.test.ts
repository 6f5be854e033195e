import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartBackoff } from '../../src/media/restart-backoff.ts';

test('restart delays grow with failures in a row, stay at the longest, and start over after a reset', () => {
  const backoff = new RestartBackoff([200, 500, 1000]);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => backoff.nextDelayMs()),
    [200, 500, 1000, 1000],
  );
  backoff.reset();
  assert.equal(backoff.nextDelayMs(), 200);
});
