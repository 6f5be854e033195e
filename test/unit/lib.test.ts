/**
 * TokenBucket and MinInterval with an explicit fake clock (milliseconds passed in by the test), and SerialQueue,
 * the single writer of a channel's state.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MinInterval, TokenBucket } from '../../src/lib/rate-limiter.ts';
import { SerialQueue } from '../../src/lib/serial-queue.ts';

/** Takes `n` times at `nowMs` and returns how many were let through. */
function takeMany(bucket: TokenBucket, nowMs: number, n: number): number {
  let passed = 0;
  for (let i = 0; i < n; i += 1) if (bucket.take(nowMs)) passed += 1;
  return passed;
}

describe('TokenBucket', () => {
  test('lets a full burst through at once, then refuses', () => {
    const bucket = new TokenBucket(2, 5);
    assert.equal(takeMany(bucket, 1_000, 5), 5);
    assert.equal(bucket.take(1_000), false);
    assert.equal(bucket.take(1_000), false);
  });

  test('refills at the rate: one token every 1000/rate ms', () => {
    const bucket = new TokenBucket(2, 3);
    assert.equal(takeMany(bucket, 0, 3), 3);
    assert.equal(bucket.take(499), false, '499 ms at 2/s is less than one token');
    assert.equal(bucket.take(500), true, 'the fraction earned by the refused take is kept');
    assert.equal(bucket.take(500), false);
    assert.equal(bucket.take(1_000), true);
    assert.equal(takeMany(bucket, 2_000, 5), 2, 'one second at 2/s is two tokens');
  });

  /** Takes every `stepMs` for 10 s from a bucket of burst 1 and returns how many passed. */
  function sustained(ratePerSecond: number, stepMs: number): number {
    const bucket = new TokenBucket(ratePerSecond, 1);
    let passed = 0;
    for (let nowMs = 0; nowMs < 10_000; nowMs += stepMs) if (bucket.take(nowMs)) passed += 1;
    return passed;
  }

  test('a caller taking every 100 ms at 10/s gets all 100 over 10 s', () => {
    assert.equal(sustained(10, 100), 100);
  });

  test('a caller taking every 1 ms at 10/s gets 10 per second over 10 s', () => {
    assert.equal(sustained(10, 1), 100);
  });

  test('a caller taking every 10 ms at 10/s gets 10 per second over 10 s', () => {
    assert.equal(sustained(10, 10), 100);
    assert.equal(sustained(100, 1), 1_000);
  });

  test('does not refill above the burst however long it is idle', () => {
    const bucket = new TokenBucket(10, 2);
    assert.equal(bucket.take(0), true);
    assert.equal(takeMany(bucket, 3_600_000, 10), 2);
    assert.equal(bucket.take(3_600_000), false);
  });

  test('the first take starts full whatever the clock reads', () => {
    const bucket = new TokenBucket(1, 2);
    assert.equal(takeMany(bucket, 123_456_789, 3), 2);
  });
});

describe('MinInterval', () => {
  test('lets the first action through, then at most one per interval', () => {
    const gate = new MinInterval(1_000);
    assert.equal(gate.tryNow(5_000), true);
    assert.equal(gate.tryNow(5_000), false);
    assert.equal(gate.tryNow(5_999), false);
    assert.equal(gate.tryNow(6_000), true);
    assert.equal(gate.tryNow(6_500), false);
    assert.equal(gate.tryNow(7_000), true);
  });

  test('a refused attempt does not restart the interval', () => {
    const gate = new MinInterval(100);
    assert.equal(gate.tryNow(0), true);
    for (let nowMs = 10; nowMs < 100; nowMs += 10) assert.equal(gate.tryNow(nowMs), false);
    assert.equal(gate.tryNow(100), true);
  });

  test('the first action goes through even at clock zero', () => {
    assert.equal(new MinInterval(60_000).tryNow(0), true);
  });
});

/** A promise with its resolve exposed, to hold a task until the test lets it go. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SerialQueue', () => {
  test('runs tasks one at a time, in the order given, across awaits inside them', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const task = (name: string, awaits: number) => async (): Promise<string> => {
      log.push(`start ${name}`);
      for (let i = 0; i < awaits; i += 1) await tick();
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      queue.run(task('a', 3)),
      queue.run(task('b', 0)),
      queue.run(task('c', 2)),
      queue.run(() => {
        log.push('sync d');
        return 'd';
      }),
    ]);
    assert.deepEqual(results, ['a', 'b', 'c', 'd']);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c', 'sync d']);
  });

  test('a later task does not start until the earlier one settles', async () => {
    const queue = new SerialQueue();
    const gate = deferred();
    let secondStarted = false;
    const first = queue.run(() => gate.promise);
    const second = queue.run(() => {
      secondStarted = true;
    });
    for (let i = 0; i < 5; i += 1) await tick();
    assert.equal(secondStarted, false);
    gate.resolve();
    await Promise.all([first, second]);
    assert.equal(secondStarted, true);
  });

  test('a rejected or throwing task rejects its own promise and does not stop later ones', async () => {
    const queue = new SerialQueue();
    const rejecting = queue.run(() => Promise.reject(new Error('join failed')));
    const throwing = queue.run(() => {
      throw new Error('leave failed');
    });
    const later = queue.run(() => 'still runs');
    await assert.rejects(rejecting, /join failed/);
    await assert.rejects(throwing, /leave failed/);
    assert.equal(await later, 'still runs');
  });

  test('close() waits for the queued tasks, then refuses new ones', async () => {
    const queue = new SerialQueue();
    const gate = deferred();
    const done: string[] = [];
    const first = queue.run(async () => {
      await gate.promise;
      done.push('first');
    });
    const failing = queue.run(() => Promise.reject(new Error('boom')));
    const last = queue.run(() => {
      done.push('last');
    });
    let closed = false;
    const closing = queue.close().then(() => {
      closed = true;
    });
    await assert.rejects(
      queue.run(() => 'too late'),
      /queue closed/,
    );
    for (let i = 0; i < 5; i += 1) await tick();
    assert.equal(closed, false, 'close() is still waiting for the queued tasks');
    gate.resolve();
    await closing;
    assert.deepEqual(done, ['first', 'last']);
    await first;
    await assert.rejects(failing, /boom/);
    await last;
    await assert.rejects(
      queue.run(() => 'after close'),
      /queue closed/,
    );
  });

  test('close() twice, and close() of an idle queue, resolve', async () => {
    const queue = new SerialQueue();
    await queue.close();
    await queue.close();
  });
});
