/**
 * Viewers who do not read: 1,000 blocking playlist requests held at once on raw sockets that never read, and a
 * viewer reading a segment one byte every 50 ms. The origin must keep what it holds bounded (one change listener
 * and one timer per waiting request, none left after), answer everyone else as usual, and let go of a client the
 * moment its socket goes. The stream is real (ffmpeg CMAF, Fmp4Splitter, VariantPackager) as in hls-origin.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nodeExchange, type HttpExchange } from '../../src/http/http-exchange.ts';
import { LeanHttpServer } from '../../src/http/lean-http-server.ts';
import { errorOf, request, until, type Origin, useOriginSuite } from '../helpers/hls-origin-harness.ts';

// 12 s: six 2 s segments, enough for a window of complete segments and an open one.
const suite = useOriginSuite(12);

/** Counts the packager's live change listeners (waitFor registers one per waiting request). */
function countListeners(origin: Origin): () => number {
  const live = new Set<() => void>();
  const onChange = origin.packager.onChange.bind(origin.packager);
  origin.packager.onChange = (listener) => {
    const off = onChange(listener);
    const tracked = (): void => {
      live.delete(tracked);
      off();
    };
    live.add(tracked);
    return tracked;
  };
  return () => live.size;
}

const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

/**
 * The collector, for measuring only: `node --test` runs without --expose-gc, and V8 can still be told to expose it
 * before a new context is made.
 */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return gc;
}

const sockets = new Set<Socket>();
after(() => {
  for (const socket of sockets) socket.destroy();
});

/** A raw connection that sends `GET path` and never reads: the socket is paused and has no data listener. */
async function holdRequest(port: number, path: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  sockets.add(socket);
  socket.on('error', () => {}); // a reset after destroy is expected
  socket.once('close', () => sockets.delete(socket));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return socket;
}

/** Opens `count` held requests, `batch` connecting at a time. */
async function holdRequests(port: number, path: string, count: number, batch = 100): Promise<Socket[]> {
  const held: Socket[] = [];
  while (held.length < count) {
    const size = Math.min(batch, count - held.length);
    held.push(...(await Promise.all(Array.from({ length: size }, () => holdRequest(port, path)))));
  }
  return held;
}

/** What a normal viewer does at the live edge: playlist, init, a complete segment and a part, all 200. */
async function normalViewer(origin: Origin): Promise<void> {
  const [msn] = origin.packager.lastPart ?? assert.fail('no part yet');
  const paths = ['index.m3u8', 'init1.mp4', `${msn - 1}.m4s`, `${msn}.0.m4s`, `${msn - 1}.3.m4s`];
  const answers = await Promise.all(paths.map((path) => request(origin.port, `${origin.media}${path}`)));
  for (const [i, answer] of answers.entries()) {
    assert.equal(answer.status, 200, `${paths[i]}: ${answer.text}`);
    assert.ok(answer.body.length > 0, `${paths[i]} is empty`);
  }
}

/** Resolves with the first `bytes` bytes the socket has received, reading it now. */
function firstBytes(socket: Socket, bytes: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < bytes) return;
      socket.off('data', onData);
      socket.pause();
      resolve(Buffer.concat(chunks).subarray(0, bytes).toString('latin1'));
    };
    socket.on('data', onData);
    socket.resume();
  });
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('viewers that never read', () => {
  test('1,000 blocking playlist requests held at once: one listener and one timer each, others answered, all released when the part comes', async (t: TestContext) => {
    const origin = await suite.serve();
    const listeners = countListeners(origin);
    origin.add(5); // segment 0 complete, segment 1 open with one part: the hint is 1.1
    const next = origin.packager.nextPart ?? assert.fail('no preload hint');
    assert.deepEqual(next, [1, 1]);
    const blocking = `${origin.media}index.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`;
    const gc = collector();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const timersBefore = timers();

    // The origin times a blocking request out after 3 target durations (6 s): all of this happens well within.
    const opened = performance.now();
    const held = await holdRequests(origin.port, blocking, 1000);
    await until(() => origin.origin.waitingRequests === 1000, '1000 waiting requests', 4000);
    t.diagnostic(`1000 held requests open and waiting after ${Math.round(performance.now() - opened)} ms`);
    assert.equal(listeners(), 1000, 'one change listener per waiting request');
    assert.ok(timers() - timersBefore <= 1000, `${timers() - timersBefore} new timers for 1000 requests`);

    gc();
    const heapHeld = process.memoryUsage().heapUsed - heapBefore;
    t.diagnostic(`heap with 1000 held requests: +${mib(heapHeld)} (${Math.round(heapHeld / 1000)} B each)`);
    // Sockets, parsers, requests, responses and a waiter each: tens of KB at most, not a buffer per viewer.
    assert.ok(heapHeld < 1000 * 64 * 1024, `heap grew ${mib(heapHeld)} for 1000 held requests`);

    // Meanwhile a normal viewer is answered as usual, and its own blocking request joins the queue.
    await normalViewer(origin);
    assert.equal(origin.origin.waitingRequests, 1000, 'a normal viewer was held or dropped a held one');
    const viewerBlocking = request(origin.port, blocking);
    await until(() => origin.origin.waitingRequests === 1001, "the viewer's blocking request to wait");

    origin.add(); // part 1.1
    const answer = await viewerBlocking;
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.text, /1\.1\.m4s/);
    await until(() => origin.origin.waitingRequests === 0, 'every held request answered');
    assert.equal(listeners(), 0, 'change listeners left after the answers');
    await until(() => timers() <= timersBefore, 'the waiters’ timers to be cleared');
    // The held sockets were answered even though they never read: a few of them, read now, say so.
    for (const socket of held.slice(0, 3)) assert.equal(await firstBytes(socket, 15), 'HTTP/1.1 200 OK');
    for (const socket of held) socket.destroy();
    await until(() => held.every((socket) => socket.closed), 'the held sockets to close');
  });

  test('1,000 held requests whose sockets are destroyed release their waiters at once, not at the timeout', async () => {
    const origin = await suite.serve();
    const listeners = countListeners(origin);
    origin.add(5);
    const next = origin.packager.nextPart ?? assert.fail('no preload hint');
    const timersBefore = timers();
    const held = await holdRequests(
      origin.port,
      `${origin.media}index.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`,
      1000,
    );
    await until(() => origin.origin.waitingRequests === 1000, '1000 waiting requests', 4000);
    const destroyedAt = performance.now();
    for (const socket of held) socket.destroy();
    // The blocking timeout is 6 s; 1 s is "at once" with room for a loaded machine.
    await until(() => origin.origin.waitingRequests === 0, 'the waiters to be released', 1000);
    assert.ok(performance.now() - destroyedAt < 1000);
    assert.equal(listeners(), 0, 'change listeners left after the clients went');
    await until(() => timers() <= timersBefore, 'the waiters’ timers to be cleared', 1000);

    // Held part requests (the preload hint) go the same way.
    const parts = await holdRequests(origin.port, `${origin.media}${next[0]}.${next[1]}.m4s`, 1000);
    await until(() => origin.origin.waitingRequests === 1000, '1000 waiting part requests', 4000);
    assert.equal(listeners(), 1000);
    for (const socket of parts) socket.destroy();
    await until(() => origin.origin.waitingRequests === 0, 'the part waiters to be released', 1000);
    assert.equal(listeners(), 0);
    await until(() => [...held, ...parts].every((socket) => socket.closed), 'the held sockets to close');
  });

  test('past --max-hls-requests in progress, a request is answered 503 with Retry-After at once; room again when held ones go', async () => {
    const origin = await suite.serve(4, 100);
    origin.add(5);
    const next = origin.packager.nextPart ?? assert.fail('no preload hint');
    const blocking = `${origin.media}index.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`;
    const held = await holdRequests(origin.port, blocking, 100);
    await until(() => origin.origin.waitingRequests === 100, '100 waiting requests', 4000);

    const refused = await request(origin.port, `${origin.media}index.m3u8`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(errorOf(refused).code, 'Unavailable');
    assert.equal(origin.origin.counters().refused, 1);
    assert.equal(origin.origin.waitingRequests, 100, 'the refused request was not held');

    for (const socket of held.slice(0, 10)) socket.destroy();
    await until(() => origin.origin.waitingRequests === 90, 'ten waiters released');
    assert.equal((await request(origin.port, `${origin.media}index.m3u8`)).status, 200);
    for (const socket of held) socket.destroy();
  });
});

/**
 * A second front for the same origin, so the test sees the server's side of the slow connection: the HLS port's
 * LeanHttpServer or node:http (the main port).
 */
async function startFront(
  kind: 'lean' | 'node',
  origin: Origin,
): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const handle = (exchange: HttpExchange): void => {
    origin.origin.handle(exchange).then(
      (handled) => {
        assert.ok(handled);
      },
      (error: unknown) => {
        origin.crashes.push(error);
      },
    );
  };
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  if (kind === 'lean') {
    const lean = new LeanHttpServer(handle);
    lean.server.on('connection', track);
    await new Promise<void>((resolve) => {
      lean.listen({ host: '127.0.0.1', port: 0 }, resolve);
    });
    return {
      port: (lean.server.address() as AddressInfo).port,
      sockets,
      close: () => {
        lean.close();
        return Promise.resolve();
      },
    };
  }
  const front: Server = createServer((req, res) => {
    handle(nodeExchange(req, res));
  });
  front.on('connection', track);
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as AddressInfo).port,
    sockets,
    close: async () => {
      front.closeAllConnections();
      await new Promise<void>((resolve) =>
        front.close(() => {
          resolve();
        }),
      );
    },
  };
}

describe('a viewer that reads slowly', () => {
  for (const kind of ['lean', 'node'] as const) {
    test(`${kind === 'lean' ? 'HLS port' : 'node:http'}: reading segments one byte every 50 ms delays no one else; the server holds at most about a segment for it; nothing is left when it goes`, async (t: TestContext) => {
      const origin = await suite.serve(4);
      const listeners = countListeners(origin);
      origin.add(21); // segments 0–4 complete, 5 open with one part
      // The largest complete segment, asked for 64 times on one pipelined connection.
      const largest = origin.packager.segments
        .filter((segment) => segment.complete)
        .reduce((a, b) => ((a.bytes?.length ?? 0) >= (b.bytes?.length ?? 0) ? a : b));
      const segmentBytes = largest.bytes?.length ?? assert.fail('no complete segment');

      const front = await startFront(kind, origin);
      const serverSockets = front.sockets;
      try {
        const { port } = front;
        const slow = connect({ host: '127.0.0.1', port });
        sockets.add(slow);
        slow.on('error', () => {});
        slow.once('close', () => sockets.delete(slow));
        await new Promise<void>((resolve) => slow.once('connect', resolve));
        slow.pause();
        const get = `GET ${origin.media}${largest.msn}.m4s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
        slow.write(get.repeat(64));
        await until(() => serverSockets.size === 1, 'the server to see the slow connection');
        const serverSide = [...serverSockets][0] ?? assert.fail();

        let read = 0;
        let maxQueued = 0;
        const reader = setInterval(() => {
          const byte = slow.read(1) as Buffer | null;
          if (byte !== null) read += byte.length;
          maxQueued = Math.max(maxQueued, serverSide.writableLength);
        }, 50);
        try {
          // Other viewers fetch for a few seconds while the slow one reads; each round is answered in full.
          const started = performance.now();
          let rounds = 0;
          while (performance.now() - started < 3000) {
            await normalViewer(origin);
            const answer = await request(port, `${origin.media}${largest.msn}.m4s`);
            assert.equal(answer.status, 200);
            assert.equal(answer.body.length, segmentBytes, 'a fast viewer got a short segment');
            maxQueued = Math.max(maxQueued, serverSide.writableLength);
            rounds += 1;
          }
          t.diagnostic(
            `segment ${segmentBytes} B; slow viewer read ${read} B in 3 s; server queued at most ` +
              `${maxQueued} B for it; ${origin.origin.counters().requests.segment - rounds * 2} of its 64 answers handed to the kernel; ` +
              `other viewers made ${rounds} rounds`,
          );
          assert.ok(rounds >= 5, `other viewers made only ${rounds} rounds in 3 s`);
          assert.ok(read > 0 && read < segmentBytes, `the slow viewer read ${read} B`);
          // Both servers stop taking pipelined requests while an answer waits to drain, so what they hold in user
          // space for the slow viewer is about one answer (references to the packager's bytes), not 64.
          assert.ok(maxQueued <= 2 * segmentBytes, `the server queued ${maxQueued} B for one slow viewer`);
        } finally {
          clearInterval(reader);
        }

        slow.destroy();
        await until(() => serverSockets.size === 0, 'the server side of the slow connection to close');
        assert.equal(origin.origin.waitingRequests, 0);
        assert.equal(listeners(), 0);
      } finally {
        await front.close();
      }
    });
  }
});
