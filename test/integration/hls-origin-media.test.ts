/**
 * The LL-HLS origin's media and HTTP surface: init segments, segments (checked by ffprobe), parts and the hinted
 * next part, 404s for what is not there, HEAD, OPTIONS and CORS, methods, and hostile paths. The stream is real
 * (ffmpeg CMAF, split by Fmp4Splitter, packaged by VariantPackager); the test adds its fragments when it chooses.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeErrors, run } from '../helpers/ffmpeg.ts';
import {
  errorOf,
  request,
  runId,
  startWaiting,
  type Answer,
  type Origin,
  useOriginSuite,
} from '../helpers/hls-origin-harness.ts';

const immutable = 'public, max-age=31536000, immutable';

const suite = useOriginSuite(12);
const serve = (windowSegments?: number): Promise<Origin> => suite.serve(windowSegments);

const fragment = (index: number): Uint8Array => suite.stream.fragments[index]!.bytes;

function assertMedia(answer: Answer, bytes: Uint8Array): void {
  assert.equal(answer.status, 200, answer.text.slice(0, 200));
  assert.equal(answer.headers['content-type'], 'video/mp4');
  assert.equal(answer.headers['cache-control'], immutable);
  assert.equal(answer.headers['content-length'], String(bytes.length));
  assert.ok(answer.body.equals(bytes), 'body differs from the expected bytes');
}

function assertNotFound(answer: Answer, what: string): void {
  assert.equal(answer.status, 404, what);
  assert.equal(errorOf(answer).code, 'NotFound', what);
  assert.equal(answer.headers['access-control-allow-origin'], '*', what);
}

describe('media', () => {
  test('the init segment answers the exact init bytes, immutable', async () => {
    const origin = await serve();
    origin.add();
    assertMedia(await request(origin.port, `${origin.media}init1.mp4`), suite.stream.init.bytes);
  });

  test('a segment answers its parts concatenated, and ffprobe decodes init + segment as 2.0 s of video', async () => {
    const origin = await serve();
    origin.add(9); // segments 0 and 1 complete
    const expected = Buffer.concat([4, 5, 6, 7].map(fragment));
    const answer = await request(origin.port, `${origin.media}1.m4s`);
    assertMedia(answer, expected);

    const path = join(suite.dir, 'init-and-segment-1.mp4');
    await writeFile(path, Buffer.concat([suite.stream.init.bytes, answer.body]));
    const probed = await run('ffprobe', [
      ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=codec_name,width,height,nb_read_frames,r_frame_rate', '-of', 'json', path],
    ]);
    const [video] = (JSON.parse(probed.stdout) as { streams: Record<string, unknown>[] }).streams;
    assert.deepEqual(video, {
      codec_name: 'h264',
      width: 320,
      height: 240,
      r_frame_rate: '30/1',
      nb_read_frames: '60',
    });
    // Decoding the whole segment from its keyframe must not log a single error.
    assert.equal(await decodeErrors(path), '');
  });

  test('each part answers its fragment bytes', async () => {
    const origin = await serve();
    origin.add(6);
    for (const [index, uri] of ['0.0', '0.1', '0.2', '0.3', '1.0', '1.1'].entries()) {
      assertMedia(await request(origin.port, `${origin.media}${uri}.m4s`), fragment(index));
    }
  });

  test('the open segment is answered once it is complete', async () => {
    const origin = await serve();
    origin.add(6); // segment 1 open with two parts
    const waiting = await startWaiting(origin, `${origin.media}1.m4s`);
    origin.add();
    await sleep(50);
    assert.equal(waiting.isAnswered(), false, 'answered while the segment was still open');
    origin.add(); // its fourth part brings segment 1 to its boundary: complete
    assertMedia(await waiting.answer, Buffer.concat([4, 5, 6, 7].map(fragment)));
  });

  test('a request for the hinted next part waits and is answered with it when it is added', async () => {
    const origin = await serve();
    origin.add(5); // segment 1 open with part 0; the hint is 1.1.m4s
    const waiting = await startWaiting(origin, `${origin.media}1.1.m4s`);
    const addedAt = performance.now();
    origin.add();
    const answer = await waiting.answer;
    assert.ok(answer.at >= addedAt);
    assertMedia(answer, fragment(5));
  });

  test('a request for the hinted part that will not exist is answered 404 once the next part lands elsewhere', async () => {
    const origin = await serve();
    origin.add(4);
    const abort = new AbortController();
    const waiting = await startWaiting(origin, `${origin.media}0.4.m4s`, { signal: abort.signal });
    origin.add(); // the keyframe opens segment 1: part 0.4 will never be produced
    const answer = await Promise.race([waiting.answer, sleep(1000).then(() => undefined)]);
    abort.abort();
    await waiting.answer.catch(() => undefined);
    assert.ok(answer !== undefined, 'still waiting 1 s after the next part was published as 1.0.m4s');
    assertNotFound(answer, '0.4.m4s');
  });

  test('what is not there answers a JSON 404 at once', async () => {
    const origin = await serve(2);
    origin.add(21); // segments 0–4 complete, 0–2 slid out of the 2-segment window; segment 5 open with one part
    const other = 'ffffffff';
    const sentAt = performance.now();
    for (const path of [
      '5.5.m4s', // far ahead of the next part, 5.1
      '6.1.m4s', // (6.0 might be next, should segment 5 end early: that one waits)
      '6.m4s',
      '0.m4s',
      '2.m4s',
      '2.0.m4s',
      'init2.mp4',
    ]) {
      assertNotFound(await request(origin.port, `${origin.media}${path}`), path);
    }
    for (const path of [
      `${other}/v0/index.m3u8`,
      `${other}/v0/3.m4s`,
      `${runId}/v1/index.m3u8`,
      `${runId}/v1/3.m4s`,
    ]) {
      assertNotFound(await request(origin.port, `${origin.root}${path}`), path);
    }
    assert.ok(performance.now() - sentAt < 1000, 'some 404 was not answered at once');
    assert.equal(origin.origin.waitingRequests, 0);
  });
});

describe('HTTP', () => {
  test('HEAD answers the headers of GET and no body', async () => {
    const origin = await serve();
    origin.add(5);
    for (const path of ['index.m3u8', 'init1.mp4', '0.m4s', '1.0.m4s', '5.m4s']) {
      const get = await request(origin.port, `${origin.media}${path}`);
      const head = await request(origin.port, `${origin.media}${path}`, { method: 'HEAD' });
      assert.equal(head.status, get.status, path);
      assert.equal(head.body.length, 0, path);
      for (const name of ['content-type', 'content-length', 'cache-control', 'access-control-allow-origin']) {
        assert.equal(head.headers[name], get.headers[name], `${path}: ${name}`);
      }
    }
  });

  test('OPTIONS answers 204 with the CORS headers', async () => {
    const origin = await serve();
    for (const path of [`${origin.media}index.m3u8`, `${origin.root}index.m3u8`, `${origin.media}0.0.m4s`]) {
      const answer = await request(origin.port, path, { method: 'OPTIONS' });
      assert.equal(answer.status, 204);
      assert.equal(answer.body.length, 0);
      assert.equal(answer.headers['access-control-allow-origin'], '*');
      assert.deepEqual(answer.headers['access-control-allow-methods']?.split(/,\s*/).sort(), [
        'GET',
        'HEAD',
        'OPTIONS',
      ]);
    }
  });

  test('every GET answer allows any origin; playlists are cached 1 s, errors not at all', async () => {
    const origin = await serve();
    origin.add(5);
    const cases: [string, number, string][] = [
      [`${origin.root}index.m3u8`, 200, 'public, max-age=1'],
      [`${origin.media}index.m3u8`, 200, 'public, max-age=1'],
      [`${origin.media}index.m3u8?_HLS_msn=0`, 200, 'public, max-age=1'],
      [`${origin.media}init1.mp4`, 200, immutable],
      [`${origin.media}0.m4s`, 200, immutable],
      [`${origin.media}1.0.m4s`, 200, immutable],
      [`${origin.media}index.m3u8?_HLS_msn=x`, 400, 'no-store'],
      [`${origin.media}7.m4s`, 404, 'no-store'],
      [`/hls/${'0'.repeat(32)}/index.m3u8`, 404, 'no-store'],
    ];
    for (const [path, status, cache] of cases) {
      const answer = await request(origin.port, path);
      assert.equal(answer.status, status, path);
      assert.equal(answer.headers['access-control-allow-origin'], '*', path);
      assert.equal(answer.headers['cache-control'], cache, path);
    }
  });

  for (const method of ['POST', 'PUT', 'DELETE']) {
    test(`${method} answers 405 naming the allowed methods`, async () => {
      const origin = await serve();
      const answer = await request(origin.port, `${origin.media}index.m3u8`, { method });
      assert.equal(answer.status, 405);
      assert.equal(answer.headers.allow, 'GET, HEAD, OPTIONS');
    });
  }

  test('a 405 also allows any origin and has the JSON error body', async () => {
    const origin = await serve();
    const answer = await request(origin.port, `${origin.media}index.m3u8`, { method: 'POST' });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers['access-control-allow-origin'], '*');
    assert.equal(errorOf(answer).code, 'MethodNotAllowed');
  });
});

describe('paths', () => {
  test('traversal, empty segments, encoded dots, uppercase ids and unknown ids answer 404, never a crash', async () => {
    const origin = await serve();
    origin.add(5);
    const id = origin.playlistId;
    const paths = [
      `/hls/${id}/../x`,
      `/hls/${id}/../${id}/index.m3u8`,
      `/hls/${id}//index.m3u8`,
      `/hls//${id}/index.m3u8`,
      `/hls/${id}/${runId}//v0/index.m3u8`,
      `/hls/${id}/${runId}/v0//0.m4s`,
      `/hls/${id}/%2e%2e/${id}/index.m3u8`,
      `/hls/${id}/%2E%2E/x`,
      `/hls/${id}/${runId}/v0/%2e%2e/v0/index.m3u8`,
      `/hls/${id}/${runId}/v0/..%2f..%2findex.m3u8`,
      `/hls/${id}%2findex.m3u8`,
      `/hls/${id}/index%2em3u8`,
      `/hls/${id}/${runId}/v0/0.0.m4s%00`,
      `/hls/${id.toUpperCase()}/index.m3u8`,
      `/hls/${id}/${runId.toUpperCase()}/v0/index.m3u8`,
      `/hls/${id}/${runId}/V0/index.m3u8`,
      `/hls/${id}0/index.m3u8`,
      `/hls/${id.slice(1)}/index.m3u8`,
      `/hls/${'f'.repeat(32)}/index.m3u8`,
      `/hls/${'f'.repeat(32)}/${runId}/v0/index.m3u8`,
      `/hls/${id}/${runId}/v0/1234567890.m4s`,
      `/hls/${id}/${runId}/v0/-1.m4s`,
      `/hls/${id}/${runId}/v0/1e3.m4s`,
      `/hls/${id}/${runId}/v123/index.m3u8`,
      `/hls/${id}/index.m3u8/`,
      `/hls/`,
    ];
    for (const path of paths) {
      const answer = await request(origin.port, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.headers['access-control-allow-origin'], '*', path);
      assert.equal(errorOf(answer).code, 'NotFound', path);
    }
    assert.deepEqual(origin.crashes, []);
    assert.equal((await request(origin.port, `${origin.root}index.m3u8`)).status, 200, 'still serving');
  });
});
