/**
 * Pooled raw pictures (counted holds) and the raw-picture readers: the frame cutter over odd chunk sizes, and the
 * unix socket reader against a real socket that starts listening late.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { holdPicture, PicturePool, releasePicture } from '../../src/media/picture-pool.ts';
import { mediaCounters } from '../../src/media/media-counters.ts';
import { FixedFrameReader, UnixSocketReader } from '../../src/media/raw-frames.ts';

describe('PicturePool', () => {
  test('a released picture is handed out again instead of a new one', () => {
    const pool = new PicturePool(12);
    const first = pool.take();
    assert.equal(first.length, 12);
    releasePicture(first);
    assert.equal(pool.take(), first);
    assert.deepEqual(pool.stats(), { allocated: 1, reused: 1, spare: 0, dropped: 0 });
  });

  test('a picture goes back only when its last holder lets go', () => {
    const pool = new PicturePool(12);
    const picture = pool.take();
    holdPicture(picture);
    holdPicture(picture);
    releasePicture(picture);
    releasePicture(picture);
    assert.equal(pool.stats().spare, 0, 'one holder left');
    assert.notEqual(pool.take(), picture, 'a held picture is never handed out');
    releasePicture(picture);
    assert.equal(pool.stats().spare, 1);
  });

  test('a release nobody held is counted and does not put a picture in the pool twice', () => {
    const pool = new PicturePool(12);
    const before = mediaCounters.picturesReleasedUnheld;
    const picture = pool.take();
    releasePicture(picture);
    releasePicture(picture);
    assert.equal(mediaCounters.picturesReleasedUnheld, before + 1);
    assert.equal(pool.stats().spare, 1);
    const a = pool.take();
    const b = pool.take();
    assert.notEqual(a, b);
  });

  test('at most maxSpare pictures wait in the pool; the rest are left to the collector', () => {
    const pool = new PicturePool(12, 2);
    const pictures = [pool.take(), pool.take(), pool.take()];
    for (const picture of pictures) releasePicture(picture);
    assert.equal(pool.stats().spare, 2);
    assert.equal(pool.stats().dropped, 1);
    const before = mediaCounters.picturesReleasedUnheld;
    releasePicture(pictures[2]!);
    assert.equal(
      mediaCounters.picturesReleasedUnheld,
      before,
      'a picture dropped from the pool is no longer counted',
    );
  });

  test('pictures from no pool may be held and released: nothing happens', () => {
    const before = mediaCounters.picturesReleasedUnheld;
    const plain = new Uint8Array(12);
    holdPicture(plain);
    releasePicture(plain);
    releasePicture(plain);
    assert.equal(mediaCounters.picturesReleasedUnheld, before);
  });
});

describe('FixedFrameReader', () => {
  test('cuts chunks of any size into pictures of the pool’s size, each from the pool', () => {
    const pool = new PicturePool(5);
    const reader = new FixedFrameReader(pool);
    const stream = Uint8Array.from({ length: 23 }, (_, i) => i);
    const pictures: number[][] = [];
    const picture = (data: Uint8Array): void => {
      pictures.push([...data]);
      releasePicture(data);
    };
    let offset = 0;
    for (const size of [1, 7, 2, 10, 3]) {
      reader.push(stream.subarray(offset, offset + size), picture);
      offset += size;
    }
    assert.deepEqual(pictures, [
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14],
      [15, 16, 17, 18, 19],
    ]);
    assert.equal(pool.stats().allocated, 1, 'each picture released before the next: one serves them all');
    reader.push(Uint8Array.of(23, 24), picture);
    assert.deepEqual(pictures.at(-1), [20, 21, 22, 23, 24]);
    reader.push(Uint8Array.of(25), picture);
    assert.equal(pool.stats().spare, 0, 'the picture being filled is out of the pool');
    reader.discard();
    assert.equal(pool.stats().spare, 1, 'discarded, it is back');
    reader.push(Uint8Array.of(1, 2, 3, 4, 5), picture);
    assert.deepEqual(pictures.at(-1), [1, 2, 3, 4, 5], 'the next picture starts afresh');
  });

  test('a picture its sink still holds is not written over by the next', () => {
    const pool = new PicturePool(4);
    const reader = new FixedFrameReader(pool);
    const kept: Uint8Array[] = [];
    reader.push(Uint8Array.of(1, 1, 1, 1, 2, 2, 2, 2), (data) => {
      holdPicture(data);
      kept.push(data);
      releasePicture(data);
    });
    assert.deepEqual(
      kept.map((data) => [...data]),
      [
        [1, 1, 1, 1],
        [2, 2, 2, 2],
      ],
    );
  });
});

describe('UnixSocketReader', () => {
  async function listen(server: Server, path: string): Promise<void> {
    await new Promise<void>((resolve) => server.listen(path, resolve));
  }

  test('connects once the socket is listening, and reads everything through one buffer', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'nagare-socket-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'video.sock');
    const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251);
    const received: number[] = [];
    const views = new Set<ArrayBufferLike>();
    const reader = new UnixSocketReader({
      path,
      bufferBytes: 4096,
      retryMs: 5,
      failed: (err) => assert.fail(`not a failure: ${err.code ?? ''}`),
      data: (chunk) => {
        views.add(chunk.buffer);
        for (const byte of chunk) received.push(byte);
      },
    });
    t.after(() => {
      reader.close();
    });
    reader.start();
    await sleep(50);
    assert.ok(reader.attempts >= 2, `retried while nobody listened (${reader.attempts} attempts)`);
    const server = createServer((socket) => socket.end(payload));
    t.after(() => server.close());
    await listen(server, path);
    for (let waited = 0; received.length < payload.length && waited < 5000; waited += 10) await sleep(10);
    assert.equal(received.length, payload.length);
    assert.deepEqual(Uint8Array.from(received), payload);
    assert.equal(views.size, 1, 'every chunk was a view of the same buffer');
  });

  test('closed before anyone listens, it stops trying', async () => {
    const path = join(tmpdir(), `nagare-socket-absent-${process.pid}.sock`);
    const reader = new UnixSocketReader({
      path,
      bufferBytes: 1024,
      retryMs: 5,
      data: () => undefined,
      failed: (err) => assert.fail(`not a failure: ${err.code ?? ''}`),
    });
    reader.start();
    await sleep(30);
    reader.close();
    const attempts = reader.attempts;
    await sleep(50);
    assert.ok(reader.attempts <= attempts + 1, 'no attempts after close');
  });

  test('a path no socket can have is a failure, reported once and not retried', async () => {
    const failures: string[] = [];
    const reader = new UnixSocketReader({
      path: join(tmpdir(), 'x'.repeat(200)),
      bufferBytes: 1024,
      retryMs: 5,
      data: () => undefined,
      failed: (err) => failures.push(err.code ?? ''),
    });
    reader.start();
    await sleep(50);
    reader.close();
    assert.deepEqual(failures, ['EINVAL']);
    assert.equal(reader.attempts, 0);
  });
});
