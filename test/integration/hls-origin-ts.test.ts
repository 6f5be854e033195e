/**
 * The MPEG-TS twins of a playlist, for players without fMP4, over real HTTP: ts.m3u8 multivariant and media
 * playlists read back by hls-parser, segments remuxed from the real CMAF stream checked by ffprobe and decoded by
 * ffmpeg without an error, alone and one after the other.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, setOptions, types } from 'hls-parser';
import { decodeErrors, probeStream } from '../helpers/ffmpeg.ts';
import { request, startWaiting, type Origin, useOriginSuite } from '../helpers/hls-origin-harness.ts';

const suite = useOriginSuite(10);

function parseStrict(text: string): types.MasterPlaylist | types.MediaPlaylist {
  setOptions({ strictMode: true, silent: true });
  return parse(text);
}

describe('MPEG-TS playlists and segments', () => {
  test('ts.m3u8 lists the variants with their ts.m3u8 media playlists and CODECS', async () => {
    const origin = await suite.serve();
    origin.add(4); // the first complete segment
    const answer = await request(origin.port, `${origin.root}ts.m3u8`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers['content-type'], 'application/vnd.apple.mpegurl');
    const parsed = parseStrict(answer.text);
    assert.ok(parsed.isMasterPlaylist);
    assert.equal(parsed.variants.length, 1);
    const variant = parsed.variants[0]!;
    assert.equal(variant.uri, 'abcd1234/v0/ts.m3u8');
    assert.match(variant.codecs ?? '', /^avc1\.[0-9A-F]{6},mp4a\.40\.2$/);
  });

  test('the media playlist waits for the first complete segment, then lists complete segments only', async () => {
    const origin = await suite.serve();
    const waiting = await startWaiting(origin, `${origin.media}ts.m3u8`);
    // Parts of the first segment: not yet a complete segment, so still waiting.
    origin.add(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    while (!origin.packager.segments.some((segment) => segment.complete)) origin.add();
    const answer = await waiting.answer;
    assert.equal(answer.status, 200, answer.text);
    const parsed = parseStrict(answer.text);
    assert.ok(!parsed.isMasterPlaylist);
    assert.ok(parsed.segments.length >= 1);
    for (const segment of parsed.segments) assert.match(segment.uri, /^\d+\.ts$/);
    assert.ok(!answer.text.includes('#EXT-X-PART'), 'no parts in the plain playlist');
    assert.ok(!answer.text.includes('#EXT-X-MAP'), 'no init segment for MPEG-TS');
    assert.equal(parsed.version, 3);
  });

  test('segments are MPEG-TS that ffprobe reads and ffmpeg decodes cleanly, alone and in sequence', async () => {
    const origin = await suite.serve();
    while (origin.packager.segments.filter((segment) => segment.complete).length < 3) origin.add();
    const answer = await request(origin.port, `${origin.media}ts.m3u8`);
    const parsed = parseStrict(answer.text) as types.MediaPlaylist;
    const bodies: Buffer[] = [];
    for (const segment of parsed.segments) {
      const got = await request(origin.port, `${origin.media}${segment.uri}`);
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'video/mp2t');
      assert.equal(got.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(got.body.length % 188, 0);
      bodies.push(got.body);
      const again = await request(origin.port, `${origin.media}${segment.uri}`);
      assert.deepEqual(again.body, got.body, 'the same bytes on every request');
    }
    const one = join(suite.dir, 'one.ts');
    await writeFile(one, bodies[0]!);
    // ffprobe lists a TS stream twice (in its program and on its own): the first line is enough.
    const firstLine = (text: string): string => text.split('\n')[0] ?? '';
    assert.equal(firstLine(await probeStream(one, 'codec_name,width,height', 'v')), 'h264,320,240');
    assert.equal(firstLine(await probeStream(one, 'codec_name,sample_rate', 'a')), 'aac,48000');
    assert.equal(await decodeErrors(one), '');
    const all = join(suite.dir, 'all.ts');
    await writeFile(all, Buffer.concat(bodies));
    assert.equal(await decodeErrors(all), '');
  });

  test('unknown TS paths answer 404, and a segment not yet made waits like its fMP4 twin', async () => {
    const origin: Origin = await suite.serve();
    origin.add();
    for (const path of [
      `${origin.media}99999.ts`,
      `${origin.media}0.0.ts`,
      `${origin.media}ts.m3u8x`,
      `${origin.root}abcd1234/v7/ts.m3u8`,
      `${origin.root}ts.m3u8/`,
    ]) {
      const answer = await request(origin.port, path);
      assert.equal(answer.status, 404, path);
    }
    const waiting = await startWaiting(origin, `${origin.media}0.ts`);
    while (!origin.packager.segments.some((segment) => segment.complete)) origin.add();
    const answer = await waiting.answer;
    assert.equal(answer.status, 200);
    assert.equal(answer.body[0], 0x47);
  });

  test('a playlist that ended before its first part answers 404, not an empty or broken playlist', async () => {
    const origin = await suite.serve();
    origin.packager.end();
    for (const path of [
      `${origin.root}index.m3u8`,
      `${origin.root}ts.m3u8`,
      `${origin.media}index.m3u8`,
      `${origin.media}index.m3u8?_HLS_msn=0&_HLS_part=0`,
      `${origin.media}ts.m3u8`,
    ]) {
      const answer = await request(origin.port, path);
      assert.equal(answer.status, 404, `${path}: ${answer.text}`);
    }
  });
});
