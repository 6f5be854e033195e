/**
 * The LL-HLS origin's playlists over real HTTP: the multivariant playlist, media playlists read back by hls-parser,
 * blocking playlist reload (RFC 8216bis §6.2.5.2) and delta updates (§6.2.5.1). The stream is real (ffmpeg CMAF,
 * split by Fmp4Splitter, packaged by VariantPackager); the test adds its fragments one by one when it chooses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, setOptions, types } from 'hls-parser';
import {
  errorOf,
  request,
  startWaiting,
  until,
  type Origin,
  useOriginSuite,
} from '../helpers/hls-origin-harness.ts';

// 20 s: ten 2 s segments, enough for a delta update to skip some (CAN-SKIP-UNTIL is 12 s).
const suite = useOriginSuite(20);
const serve = (windowSegments?: number): Promise<Origin> => suite.serve(windowSegments);

function parseStrict(text: string): types.MasterPlaylist | types.MediaPlaylist {
  setOptions({ strictMode: true, silent: true });
  return parse(text);
}

function parseMedia(text: string): types.MediaPlaylist {
  const parsed = parseStrict(text);
  if (parsed.isMasterPlaylist)
    return assert.fail('a multivariant playlist where a media playlist was expected');
  return parsed;
}

/** The media playlist as a client reads it: complete segments, the open one (no URI) and the preload hint. */
async function playlist(origin: Origin, query = ''): Promise<types.MediaPlaylist> {
  const answer = await request(origin.port, `${origin.media}index.m3u8${query}`);
  assert.equal(answer.status, 200, answer.text);
  return parseMedia(answer.text);
}

/** hls-parser puts parts and the preload hint (a part with `hint`) on segments; flattened, newest last. */
const partsOf = (parsed: types.MediaPlaylist) => parsed.segments.flatMap((segment) => segment.parts);
const hintOf = (parsed: types.MediaPlaylist): string | undefined => partsOf(parsed).find((p) => p.hint)?.uri;
const newestPart = (parsed: types.MediaPlaylist): string | undefined =>
  partsOf(parsed)
    .filter((p) => !p.hint)
    .at(-1)?.uri;

describe('multivariant playlist', () => {
  test('a request made before the first complete segment waits for it, then lists the one variant with its CODECS', async () => {
    const origin = await serve();
    const waiting = await startWaiting(origin, `${origin.root}index.m3u8`);
    origin.add(3); // parts of an open segment: hls.js will not start on those
    await sleep(50);
    assert.equal(waiting.isAnswered(), false, 'answered before a segment was complete');
    const addedAt = performance.now();
    origin.add(); // the fourth part completes the first segment
    const answer = await waiting.answer;
    assert.ok(answer.at >= addedAt, 'answered before the first segment was complete');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.equal(answer.headers['cache-control'], 'public, max-age=1');
    const parsed = parseStrict(answer.text);
    assert.ok(parsed.isMasterPlaylist);
    assert.equal(parsed.variants.length, 1);
    const variant = parsed.variants[0]!;
    assert.equal(variant.uri, 'abcd1234/v0/index.m3u8');
    assert.equal(variant.averageBandwidth, 564_000);
    assert.ok(variant.bandwidth >= 564_000, `BANDWIDTH ${variant.bandwidth} below the average`);
    assert.deepEqual(variant.resolution, { width: 320, height: 240 });
    assert.equal(variant.frameRate, 30);
    assert.equal(variant.codecs, suite.stream.codecs);
  });
});

describe('media playlist', () => {
  test('hls-parser reads the LL-HLS header, EXTINF 2.0 with dates, parts near the edge and the preload hint', async () => {
    const origin = await serve();
    origin.add(10); // segments 0 and 1 complete, segment 2 open with two parts
    const parsed = await playlist(origin);
    assert.equal(parsed.targetDuration, 2);
    assert.equal(parsed.partTargetDuration, 0.5);
    const control = parsed.lowLatencyCompatibility;
    assert.ok(control !== undefined, 'no EXT-X-SERVER-CONTROL');
    assert.equal(control.canBlockReload, true);
    assert.ok(control.partHoldBack >= 1.5, `PART-HOLD-BACK ${control.partHoldBack} < 3 × PART-TARGET`);
    assert.ok(control.canSkipUntil >= 12, `CAN-SKIP-UNTIL ${control.canSkipUntil} < 6 × TARGETDURATION`);
    assert.equal(parsed.mediaSequenceBase, 0);
    assert.equal(parsed.endlist, false);

    const epoch = origin.packager.options.epochWallclockMs;
    const [first, second, open] = parsed.segments;
    assert.equal(parsed.segments.length, 3);
    for (const [msn, segment] of [first, second].entries()) {
      assert.ok(segment !== undefined);
      assert.equal(segment.uri, `${msn}.m4s`);
      assert.equal(segment.duration, 2);
      assert.equal(segment.programDateTime?.getTime(), epoch + msn * 2000);
      assert.equal(segment.map.uri, 'init1.mp4');
    }
    assert.ok(open !== undefined);
    assert.equal(open.uri, '', 'the open segment has no URI yet');
    assert.equal(open.programDateTime?.getTime(), epoch + 4000);
    // Every segment here starts within 3 target durations (6 s) of the live edge (5 s), so all list parts.
    assert.deepEqual(
      partsOf(parsed).map((p) => [p.uri, p.duration, p.independent === true, p.hint]),
      [
        ...[0, 1].flatMap((msn) => [0, 1, 2, 3].map((i) => [`${msn}.${i}.m4s`, 0.5, i === 0, false])),
        ['2.0.m4s', 0.5, true, false],
        ['2.1.m4s', 0.5, false, false],
        ['2.2.m4s', undefined, false, true],
      ],
    );
    assert.equal(hintOf(parsed), '2.2.m4s');
  });

  test('the window slides: 4 complete segments, EXT-X-MEDIA-SEQUENCE moves, old parts drop off', async () => {
    const origin = await serve(4);
    for (let fragments = 4; fragments <= 37; fragments += 1) {
      origin.add(fragments - origin.added);
      const parsed = await playlist(origin);
      // Every 4 fragments make a segment, complete with its fourth: `complete` are done, the rest is open.
      const complete = Math.floor(fragments / 4);
      const firstMsn = Math.max(0, complete - 4);
      assert.equal(parsed.mediaSequenceBase, firstMsn, `after ${fragments} fragments`);
      const listed = parsed.segments.filter((s) => s.uri !== '').map((s) => s.uri);
      const expected = Array.from({ length: complete - firstMsn }, (_, i) => `${firstMsn + i}.m4s`);
      assert.deepEqual(listed, expected, `after ${fragments} fragments`);
      // RFC 8216bis §4.4.4.9: parts only for segments that start less than 3 target durations from the live edge.
      const liveEdge = (fragments - 4 * firstMsn) * 0.5;
      for (const [offset, segment] of parsed.segments.entries()) {
        const start = offset * 2;
        const hasParts = segment.parts.some((p) => !p.hint);
        if (start >= liveEdge) continue; // the preload hint's segment
        assert.equal(hasParts, liveEdge - start < 6, `msn ${segment.mediaSequenceNumber} after ${fragments}`);
      }
    }
  });

  test('the preload hint names the URI the next part is then published under', async () => {
    const origin = await serve(20);
    origin.add(4);
    const misses: string[] = [];
    while (origin.added < 16) {
      const hint = hintOf(await playlist(origin));
      origin.add();
      const published = newestPart(await playlist(origin));
      if (hint !== published) misses.push(`hint ${hint}, then published ${published}`);
    }
    assert.deepEqual(misses, []);
  });
});

describe('blocking playlist reload', () => {
  test('_HLS_msn/_HLS_part for the next part is answered right after it is added, and lists it', async (t) => {
    const origin = await serve();
    origin.add(6); // segment 1 open with parts 0 and 1
    const waiting = await startWaiting(origin, `${origin.media}index.m3u8?_HLS_msn=1&_HLS_part=2`);
    const addedAt = performance.now();
    origin.add();
    const answer = await waiting.answer;
    const delayMs = answer.at - addedAt;
    t.diagnostic(`answered ${delayMs.toFixed(1)} ms after the part was added`);
    assert.ok(delayMs >= 0, 'answered before the part existed');
    assert.ok(delayMs < 1000, `answered ${delayMs} ms after the part was added`);
    assert.equal(answer.status, 200);
    const parsed = parseMedia(answer.text);
    assert.equal(newestPart(parsed), '1.2.m4s');
    assert.equal(hintOf(parsed), '1.3.m4s');
  });

  test('_HLS_msn of a complete segment in the playlist is answered at once', async () => {
    const origin = await serve();
    origin.add(9); // segments 0 and 1 complete
    for (const query of ['_HLS_msn=1', '_HLS_msn=0', '_HLS_msn=1&_HLS_part=3', '_HLS_msn=2&_HLS_part=0']) {
      const answer = await request(origin.port, `${origin.media}index.m3u8?${query}`);
      assert.equal(answer.status, 200, query);
      assert.equal(origin.origin.waitingRequests, 0);
    }
  });

  test('_HLS_msn more than two segments past the last one answers 400 at once', async () => {
    const origin = await serve();
    origin.add(5); // last part is in segment 1
    const answer = await request(origin.port, `${origin.media}index.m3u8?_HLS_msn=4`);
    assert.equal(answer.status, 400);
    assert.equal(errorOf(answer).code, 'InvalidParameter');
  });

  for (const query of [
    '_HLS_msn=-1',
    '_HLS_msn=abc',
    '_HLS_msn=1.5',
    '_HLS_msn=',
    '_HLS_msn=1&_HLS_part=-1',
    '_HLS_msn=1&_HLS_part=x',
    '_HLS_part=0',
    '_HLS_skip=maybe',
    '_HLS_skip=yes',
  ]) {
    test(`?${query} answers 400 with a JSON error`, async () => {
      const origin = await serve();
      origin.add();
      const answer = await request(origin.port, `${origin.media}index.m3u8?${query}`);
      assert.equal(answer.status, 400);
      assert.equal(answer.headers['access-control-allow-origin'], '*');
      const error = errorOf(answer);
      assert.equal(error.code, 'InvalidParameter');
      assert.match(error.message, /_HLS_(msn|part|skip)/);
    });
  }

  test('a blocking request never satisfied answers 503 after 3 target durations (6 s)', async () => {
    const origin = await serve();
    origin.add();
    const sentAt = performance.now();
    const answer = await request(origin.port, `${origin.media}index.m3u8?_HLS_msn=1`);
    const elapsedMs = answer.at - sentAt;
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).code, 'Unavailable');
    assert.ok(elapsedMs >= 6000 && elapsedMs < 9000, `answered after ${elapsedMs} ms`);
    assert.equal(origin.origin.waitingRequests, 0);
  });

  test('a client that disconnects while waiting is released', async () => {
    const origin = await serve();
    origin.add();
    const abort = new AbortController();
    const waiting = await startWaiting(origin, `${origin.media}index.m3u8?_HLS_msn=1`, {
      signal: abort.signal,
    });
    assert.equal(origin.origin.waitingRequests, 1);
    abort.abort();
    await assert.rejects(waiting.answer, { name: 'AbortError' });
    await until(() => origin.origin.waitingRequests === 0, 'the waiting request to be released');
  });

  test('packager.end() releases every waiter with a playlist ending in EXT-X-ENDLIST', async () => {
    const origin = await serve();
    origin.add(3);
    const queries = ['_HLS_msn=0&_HLS_part=3', '_HLS_msn=1', '_HLS_msn=2&_HLS_part=1'];
    const waiters = [];
    for (const query of queries)
      waiters.push(await startWaiting(origin, `${origin.media}index.m3u8?${query}`));
    assert.equal(origin.origin.waitingRequests, 3);
    origin.packager.end();
    for (const waiting of waiters) {
      const answer = await waiting.answer;
      assert.equal(answer.status, 200);
      const parsed = parseMedia(answer.text);
      assert.equal(parsed.endlist, true);
      assert.equal(hintOf(parsed), undefined, 'a preload hint in an ended playlist');
      assert.deepEqual(
        parsed.segments.map((s) => [s.uri, s.duration]),
        [['0.m4s', 1.5]],
      );
    }
    assert.equal(origin.origin.waitingRequests, 0);
  });
});

describe('delta update', () => {
  test('_HLS_skip=YES replaces the segments older than CAN-SKIP-UNTIL with EXT-X-SKIP', async () => {
    const origin = await serve(20);
    origin.add(37); // segments 0–8 complete, segment 9 open with one part: the live edge is 18.5 s
    const full = await playlist(origin);
    assert.equal(full.skip, 0);
    const canSkipUntil = full.lowLatencyCompatibility!.canSkipUntil;
    assert.equal(canSkipUntil, 12);
    // RFC 8216bis §4.4.3.8: a segment may be skipped when it ends at least CAN-SKIP-UNTIL before the live edge.
    let liveEdge = 0;
    for (const segment of full.segments) {
      liveEdge += segment.uri === '' ? segment.parts.reduce((sum, p) => sum + (p.duration ?? 0), 0) : 2;
    }
    const skippable = full.segments
      .filter((s) => s.uri !== '')
      .filter((_, i) => liveEdge - (i + 1) * 2 >= 12);
    assert.equal(skippable.length, 3);

    for (const value of ['YES', 'v2']) {
      const answer = await request(origin.port, `${origin.media}index.m3u8?_HLS_skip=${value}`);
      assert.equal(answer.status, 200);
      assert.match(answer.text, /^#EXT-X-SKIP:SKIPPED-SEGMENTS=3$/m);
      const delta = parseMedia(answer.text);
      assert.equal(delta.skip, 3);
      assert.equal(delta.mediaSequenceBase, 0, 'EXT-X-MEDIA-SEQUENCE counts the skipped segments');
      assert.deepEqual(
        delta.segments.map((s) => s.mediaSequenceNumber),
        full.segments.slice(3).map((s) => s.mediaSequenceNumber),
      );
      assert.deepEqual(
        delta.segments.map((s) => s.uri),
        full.segments.slice(3).map((s) => s.uri),
      );
      assert.equal(delta.segments[0]?.map.uri, 'init1.mp4', 'the delta update states its EXT-X-MAP');
    }
  });

  test('_HLS_skip=YES with a blocking request answers a delta update once the part is added', async () => {
    const origin = await serve(20);
    origin.add(37);
    const waiting = await startWaiting(
      origin,
      `${origin.media}index.m3u8?_HLS_msn=9&_HLS_part=1&_HLS_skip=YES`,
    );
    origin.add();
    const answer = await waiting.answer;
    const delta = parseMedia(answer.text);
    assert.equal(delta.skip, 3);
    assert.equal(newestPart(delta), '9.1.m4s');
  });

  test('_HLS_skip=YES with too few segments skips none', async () => {
    const origin = await serve(20);
    origin.add(24);
    const answer = await request(origin.port, `${origin.media}index.m3u8?_HLS_skip=YES`);
    assert.doesNotMatch(answer.text, /EXT-X-SKIP/);
    assert.equal(parseMedia(answer.text).skip, 0);
  });
});

describe('counters', () => {
  test('answers are counted by resource, bytes of GET 200 bodies summed, a client gone before its answer not counted', async () => {
    const origin = await serve();
    origin.add(5); // segment 0 complete (4 parts), segment 1 open with one part
    const before = origin.origin.counters();
    const media = await request(origin.port, `${origin.media}index.m3u8`);
    const part = await request(origin.port, `${origin.media}1.0.m4s`);
    const segment = await request(origin.port, `${origin.media}0.m4s`);
    const head = await request(origin.port, `${origin.media}0.m4s`, { method: 'HEAD' });
    const missing = await request(origin.port, `${origin.media}99.m4s`);
    assert.deepEqual(
      [media.status, part.status, segment.status, head.status, missing.status],
      [200, 200, 200, 200, 404],
    );
    const abort = new AbortController();
    const waiting = await startWaiting(origin, `${origin.media}index.m3u8?_HLS_msn=2`, {
      signal: abort.signal,
    });
    abort.abort();
    await assert.rejects(waiting.answer, { name: 'AbortError' });
    await until(() => origin.origin.waitingRequests === 0, 'the waiting request to be released');

    const after = origin.origin.counters();
    assert.equal(
      after.requests.media - before.requests.media,
      1,
      'the abandoned blocking request is not counted',
    );
    assert.equal(after.requests.part - before.requests.part, 1);
    assert.equal(after.requests.segment - before.requests.segment, 3, 'GET, HEAD and the 404');
    const served = media.body.length + part.body.length + segment.body.length;
    assert.ok(served > 1000, `${served} B`);
    assert.equal(after.bytes - before.bytes, served, 'only the bodies of GET 200 answers');
    assert.equal(origin.audience.bytes, served);
    assert.equal(origin.audience.viewers(), 1, 'one address and user agent');
  });
});

describe('a playlist that breaks a rule of RFC 8216bis', () => {
  test('a part longer than PART-TARGET is still served (200, the part listed), and counted with the rule it broke', async () => {
    const origin = await serve();
    origin.add(5); // segment 0 complete (4 parts), segment 1 open with one part
    const fine = await request(origin.port, `${origin.media}index.m3u8`);
    assert.equal(fine.status, 200);
    assert.equal(origin.origin.counters().ruleViolations, 0);
    // A part three times the 0.5 s target, as an encoder that stalled mid-part could give.
    const next = origin.packager.nextPart;
    assert.ok(next !== undefined);
    const fragment = suite.stream.fragments[origin.added];
    assert.ok(fragment !== undefined && !fragment.info.independent);
    origin.packager.addFragment(fragment.bytes, { ...fragment.info, durationSeconds: 1.5 });
    const answer = await request(origin.port, `${origin.media}index.m3u8`);
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.text, new RegExp(`#EXT-X-PART:DURATION=1\\.5,URI="${next[0]}\\.${next[1]}\\.m4s"`));
    const counters = origin.origin.counters();
    assert.equal(counters.ruleViolations, 1);
    assert.match(counters.lastRuleViolation ?? '', /above the part target 0\.5/);
    // Rendered once: the next request is answered from the same rendering.
    assert.equal((await request(origin.port, `${origin.media}index.m3u8`)).status, 200);
    assert.equal(origin.origin.counters().ruleViolations, 1);
  });
});

describe('the two servers of the origin', () => {
  test('the HLS port (LeanHttpServer) and the main port (node:http) give the same status, headers and body to every kind of request', async () => {
    const origin = await serve();
    origin.add(9); // segments 0 and 1 complete, segment 2 open with one part
    const { root, media } = origin;
    const requests: [string, string][] = [
      ['GET', `${root}index.m3u8`],
      ['GET', `${root}ts.m3u8`],
      ['GET', `${media}index.m3u8`],
      ['GET', `${media}index.m3u8?_HLS_msn=1`],
      ['GET', `${media}index.m3u8?_HLS_skip=YES`],
      ['GET', `${media}index.m3u8?_HLS_part=1`],
      ['GET', `${media}ts.m3u8`],
      ['GET', `${media}init0.mp4`],
      ['GET', `${media}0.m4s`],
      ['GET', `${media}1.2.m4s`],
      ['GET', `${media}0.ts`],
      ['HEAD', `${media}0.m4s`],
      ['OPTIONS', `${media}0.m4s`],
      ['POST', `${media}0.m4s`],
      ['GET', `${media}99.m4s`],
      ['GET', `${root}../index.m3u8`],
      ['GET', '/hls/nothing'],
    ];
    // Differ by nature: the clock, and how each says the connection stays open.
    const own = new Set(['date', 'connection', 'keep-alive']);
    const comparable = (headers: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(headers).filter(([name]) => !own.has(name)));
    for (const [method, path] of requests) {
      const lean = await request(origin.port, path, { method });
      const node = await request(origin.nodePort, path, { method });
      const what = `${method} ${path}`;
      assert.equal(lean.status, node.status, what);
      assert.deepEqual(comparable(lean.headers), comparable(node.headers), what);
      assert.ok(lean.body.equals(node.body), `${what}: the bodies differ`);
      // RFC 9110 §8.6: no Content-Length on a 204.
      if (lean.status === 204) assert.equal(lean.headers['content-length'], undefined, what);
    }
  });
});
