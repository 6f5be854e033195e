/**
 * HLS from worker threads (src/origin/hls-workers.ts): real worker threads on a real port, serving copies of a
 * real packager fed with ffmpeg's CMAF fragments in the main thread. What a worker answers is checked against
 * what the main thread's packager holds at that moment: the same playlist text, part and segment bytes.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { VariantPackager } from '../../src/hls/variant-packager.ts';
import { Audience } from '../../src/lib/audience.ts';
import { renderMediaFor } from '../../src/origin/playlists.ts';
import { HlsWorkers, type MirroredStream } from '../../src/origin/hls-workers.ts';
import { errorOf, request, useOriginSuite, type Answer } from '../helpers/hls-origin-harness.ts';

const suite = useOriginSuite(16);
const variant = {
  video: { width: 320, height: 240, fps: 30, bps: 500_000, codec: 'h264_main' as const },
  audio: { bps: 64_000 },
  durationSeconds: 2,
};
/** Requests on connections of their own: enough that the kernel gives some to every worker. */
const spread = 16;

interface Playlist extends MirroredStream {
  readonly packager: VariantPackager;
  readonly audience: Audience;
  /** Fragments of the stream added so far. */
  added: number;
  add(count?: number): void;
  /** `/hls/<id>/<run>/v0/` */
  readonly media: string;
}

let counter = 0;
function newPlaylist(playlistId = `${'0'.repeat(31)}${(counter += 1) % 10}`): Playlist {
  const packager = new VariantPackager({
    segmentSeconds: 2,
    partTargetSeconds: 0.5,
    windowSegments: 3,
    epochWallclockMs: Date.UTC(2026, 11, 3),
  });
  const { stream } = suite;
  packager.setInit(stream.init.bytes, stream.init.info, 0);
  const runId = (counter += 1).toString(16).padStart(8, '0');
  const playlist: Playlist = {
    playlistId,
    runId,
    variants: [variant],
    packagers: [packager],
    packager,
    audience: new Audience(),
    added: 0,
    media: `/hls/${playlistId}/${runId}/v0/`,
    add(count = 1) {
      for (let i = 0; i < count; i += 1) {
        const fragment = stream.fragments[playlist.added];
        assert.ok(fragment !== undefined, 'the stream has no more fragments');
        packager.addFragment(fragment.bytes, fragment.info);
        playlist.added += 1;
      }
    },
  };
  return playlist;
}

const pools: HlsWorkers[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

async function startPool(workers = 2, port = 0): Promise<HlsWorkers> {
  const pool = new HlsWorkers(
    { host: '127.0.0.1', port, workers, maxRequests: undefined },
    pino({ level: 'silent' }),
  );
  pools.push(pool);
  await pool.start();
  return pool;
}

const rendered = (playlist: Playlist): string => renderMediaFor(playlist, 0, false);

/** A playlist with its first `fragments` fragments, served by a new pool of two workers. */
async function served(fragments: number): Promise<{ playlist: Playlist; pool: HlsWorkers }> {
  const playlist = newPlaylist();
  playlist.add(fragments);
  const pool = await startPool();
  pool.add(playlist);
  return { playlist, pool };
}

/** Waits until the workers answer the media playlist as the main thread renders it now. */
async function untilListed(pool: HlsWorkers, playlist: Playlist, what: string): Promise<void> {
  await eventually(
    async () => (await request(pool.port, `${playlist.media}index.m3u8`)).text === rendered(playlist),
    what,
  );
}

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Every one of `spread` requests (a part, a segment, the playlist, in turn) is answered as the main thread holds it. */
async function assertServedAsHeld(pool: HlsWorkers, playlist: Playlist): Promise<void> {
  const { packager } = playlist;
  const open = packager.segments.at(-1);
  const lastPart = open?.parts.at(-1);
  const complete = packager.segments.find((segment) => segment.complete);
  assert.ok(open !== undefined && lastPart !== undefined && complete?.bytes !== undefined);
  const expected: [string, Uint8Array | string][] = [
    [`${open.msn}.${lastPart.index}.m4s`, lastPart.bytes],
    [`${complete.msn}.m4s`, complete.bytes],
    ['index.m3u8', rendered(playlist)],
  ];
  const answers = await Promise.all(
    Array.from({ length: spread }, async (_, i) => {
      const [path, bytes] = expected[i % expected.length] ?? ['', ''];
      return { path, bytes, answer: await request(pool.port, `${playlist.media}${path}`) };
    }),
  );
  for (const { path, bytes, answer } of answers) {
    assert.equal(answer.status, 200, `${path}: ${answer.text}`);
    if (typeof bytes === 'string') assert.equal(answer.text, bytes);
    else assert.ok(answer.body.equals(bytes), `${path}: other bytes`);
  }
}

test('a playlist added mid-stream is served by the workers as the main thread holds it, and follows it', async () => {
  const playlist = newPlaylist();
  // 10 s of fragments in a window of 3 segments: the first segments have left it, msn and part numbers are not 0.
  playlist.add(20);
  assert.ok((playlist.packager.segments[0]?.msn ?? 0) > 0);
  const pool = await startPool();
  pool.add(playlist);
  await assertServedAsHeld(pool, playlist);
  playlist.add(5);
  await untilListed(pool, playlist, 'the workers to list the new parts');
  await assertServedAsHeld(pool, playlist);
});

test('a worker holds a blocking playlist request until the main thread adds the part', async () => {
  const { playlist, pool } = await served(5);
  const next = playlist.packager.nextPart;
  assert.ok(next !== undefined);
  let answered = false;
  const answer = request(pool.port, `${playlist.media}index.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`);
  void answer.then(() => (answered = true));
  await eventually(() => pool.waitingRequests === 1, 'the workers to report the held request');
  assert.equal(answered, false);
  playlist.add();
  const held = await answer;
  assert.equal(held.status, 200);
  assert.ok(held.text.includes(`URI="${next[0]}.${next[1]}.m4s"`), held.text);
  assert.equal(held.text, rendered(playlist));
});

test('a new encoder generation (a discontinuity and a second init) reaches the workers', async () => {
  const playlist = newPlaylist();
  const pool = await startPool();
  pool.add(playlist);
  playlist.add(5);
  const { stream } = suite;
  playlist.packager.setInit(stream.init.bytes, stream.init.info, 2.5);
  playlist.added = 0;
  playlist.add(6);
  await untilListed(pool, playlist, 'the workers to list the second generation');
  assert.match(rendered(playlist), /#EXT-X-DISCONTINUITY\n/);
  const init = await request(pool.port, `${playlist.media}init2.mp4`);
  assert.equal(init.status, 200);
  assert.ok(init.body.equals(stream.init.bytes));
  await assertServedAsHeld(pool, playlist);
});

test("what the workers answer is counted, and their viewers counted in the playlist's audience", async () => {
  const { playlist, pool } = await served(5);
  const before = pool.counters();
  const answers: Answer[] = [];
  for (let i = 0; i < 10; i += 1) answers.push(await request(pool.port, `${playlist.media}index.m3u8`));
  await request(pool.port, '/hls/nothing-here');
  const bytes = answers.reduce((sum, answer) => sum + answer.body.length, 0);
  await eventually(() => pool.counters().requests.media === before.requests.media + 10, 'the counts');
  assert.equal(pool.counters().bytes, before.bytes + bytes);
  assert.equal(playlist.audience.bytes, bytes);
  assert.equal(playlist.audience.viewers(), 1);
});

test('bad requests to a worker: 404, 400 and 405 in the API error shape, and the workers go on', async () => {
  const { playlist, pool } = await served(5);
  const cases: [string, number, string, string?][] = [
    ['/', 404, 'NotFound'],
    ['/metrics', 404, 'NotFound'],
    [`/hls/${'f'.repeat(32)}/index.m3u8`, 404, 'NotFound'],
    [`${playlist.media}99.m4s`, 404, 'NotFound'],
    [`${playlist.media}index.m3u8?_HLS_msn=x`, 400, 'InvalidParameter'],
    [`${playlist.media}index.m3u8?_HLS_part=1`, 400, 'InvalidParameter'],
    [`${playlist.media}index.m3u8?_HLS_msn=999999`, 400, 'InvalidParameter'],
    [`${playlist.media}index.m3u8`, 405, 'MethodNotAllowed', 'POST'],
  ];
  for (const [path, status, code, method] of cases) {
    const answer = await request(pool.port, path, method === undefined ? {} : { method });
    assert.equal(answer.status, status, `${method ?? 'GET'} ${path}: ${answer.text}`);
    assert.equal(errorOf(answer).code, code);
  }
  // Not HTTP at all: the worker says 400 and closes the connection.
  const raw = await rawExchange(pool.port, 'GARBAGE\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 400 /);
  await assertServedAsHeld(pool, playlist);
});

test('a removed playlist is gone from the workers; a new run of it replaces the old one', async () => {
  const first = newPlaylist();
  first.add(5);
  const pool = await startPool();
  pool.add(first);
  assert.equal((await request(pool.port, `${first.media}index.m3u8`)).status, 200);
  const second = newPlaylist(first.playlistId);
  second.add(5);
  pool.add(second);
  await eventually(
    async () => (await request(pool.port, `${first.media}index.m3u8`)).status === 404,
    'the old run to be gone',
  );
  await assertServedAsHeld(pool, second);
  // The old run's removal, a minute after it ended, must not take the new run with it.
  pool.remove(first);
  await sleep(100);
  await assertServedAsHeld(pool, second);
  pool.remove(second);
  await eventually(
    async () => (await request(pool.port, `${second.media}index.m3u8`)).status === 404,
    'the playlist to be gone',
  );
});

test('a worker that dies is started again and serves every playlist; what it had reported stays counted', async () => {
  const { playlist, pool } = await served(5);
  for (let i = 0; i < 6; i += 1) await request(pool.port, `${playlist.media}index.m3u8`);
  await eventually(() => pool.counters().requests.media === 6, 'the counts');
  await pool.terminateWorker(0);
  playlist.add(3);
  await eventually(() => pool.restarts === 1, 'the worker to start again');
  await assertServedAsHeld(pool, playlist);
  // The restarted worker's answers are added to what the dead one had counted.
  const answered = (): number => {
    const { media, segment, part } = pool.counters().requests;
    return media + segment + part;
  };
  await eventually(() => answered() === 6 + spread, 'the counts');
});

test('the end of a playlist releases the requests the workers hold, with EXT-X-ENDLIST', async () => {
  const { playlist, pool } = await served(5);
  const next = playlist.packager.nextPart;
  assert.ok(next !== undefined);
  const answer = request(pool.port, `${playlist.media}index.m3u8?_HLS_msn=${next[0] + 1}`);
  await eventually(() => pool.waitingRequests === 1, 'the workers to report the held request');
  playlist.packager.end();
  const ended = await answer;
  assert.equal(ended.status, 200);
  assert.match(ended.text, /#EXT-X-ENDLIST\n$/);
});

test('the workers do not start on a port another program holds', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = holder.address() as AddressInfo;
    await assert.rejects(startPool(2, port), /EADDRINUSE/);
  } finally {
    holder.close();
  }
});

async function rawExchange(port: number, text: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => {
      resolve(received);
    });
    socket.on('error', reject);
  });
}
