/**
 * The segment schedule shared by the encoder (forced keyframes) and the packager (segment cuts): a short first
 * segment of three part targets on the frame grid of every variant, then whole segments. The keyframe expression
 * is run by real ffmpeg on a test picture; test/integration/media-pipeline.test.ts checks it in the encoder.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import {
  forceKeyframesExpression,
  nextBoundary,
  segmentScheduleFor,
  type SegmentSchedule,
} from '../../src/hls/segment-schedule.ts';
import { VariantPackager } from '../../src/hls/variant-packager.ts';
import type { FragmentInfo, InitInfo } from '../../src/hls/format/fmp4-reader.ts';

const run = promisify(execFile);

describe('segmentScheduleFor', () => {
  const cases: readonly [string, number, number, number[], number][] = [
    ['0.2 s parts at 30 fps', 2, 0.2, [30], 0.6],
    ['0.5 s parts at 30 fps', 2, 0.5, [30], 1.5],
    ['0.5 s parts at 30 and 15 fps: 23 frames at 15 fps', 2, 0.5, [30, 15], 23 / 15],
    ['0.2 s parts at 24 and 30 fps: the shared 1/6 s grid', 2, 0.2, [24, 30], 4 / 6],
    ['0.2 s parts at 30 and 29 fps: only whole seconds are shared', 2, 0.2, [30, 29], 1],
    ['1 s parts: no shorter than a segment', 2, 1, [30], 2],
    ['0.26667 s parts (8 frames at 30 fps)', 4, 8 / 30, [30], 0.8],
  ];
  for (const [name, segment, part, rates, first] of cases) {
    test(`${name}: the first segment lasts ${first.toFixed(4)} s`, () => {
      const schedule = segmentScheduleFor(segment, part, rates);
      assert.equal(schedule.segmentSeconds, segment);
      assert.ok(Math.abs(schedule.firstSeconds - first) < 1e-9, `${schedule.firstSeconds}`);
      for (const fps of rates) {
        const frames = schedule.firstSeconds * fps;
        assert.ok(Math.abs(frames - Math.round(frames)) < 1e-6, `${frames} frames at ${fps} fps`);
      }
    });
  }
});

describe('nextBoundary', () => {
  const schedule: SegmentSchedule = { segmentSeconds: 2, firstSeconds: 0.6 };
  const cases: readonly [number, number][] = [
    [0, 0.6],
    [0.3, 0.6],
    [0.6, 2],
    [1.99, 2],
    [2, 4],
    [5.5, 6],
    [6, 8],
  ];
  for (const [run, next] of cases) {
    test(`after ${run} s of a run, the next boundary is at ${next} s`, () => {
      assert.equal(nextBoundary(schedule, run), next);
    });
  }
});

/**
 * The frames ffmpeg makes keyframes when it encodes `seconds` of a test picture at `fps` with the expression (x264
 * with its own keyframes pushed out of the way), read from framecrc: a frame without flags `F=0x0` is a keyframe.
 */
async function forcedFrames(expression: string, fps: number, seconds: number): Promise<number[]> {
  const { stdout } = await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=rate=${fps}:size=64x48`],
    ...['-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', '-sc_threshold', '0'],
    ...['-force_key_frames', expression, '-f', 'framecrc', '-'],
  ]);
  return stdout
    .split('\n')
    .filter((line) => /^0,/.test(line) && !line.includes('F=0x0'))
    .map((line) => Number(line.split(',')[2]));
}

describe('forceKeyframesExpression, run by ffmpeg', () => {
  test('forces the first frame, the first frame at or after each boundary, and nothing else', async () => {
    const schedule = segmentScheduleFor(2, 0.2, [30]);
    assert.deepEqual(await forcedFrames(forceKeyframesExpression(schedule), 30, 6.5), [0, 18, 60, 120, 180]);
  });

  test('a boundary that binary fractions put between frames still lands on its frame (46/30 s = 23/15 s)', async () => {
    const schedule = segmentScheduleFor(2, 0.5, [30, 15]);
    assert.deepEqual(await forcedFrames(forceKeyframesExpression(schedule), 30, 4.3), [0, 46, 60, 120]);
    assert.deepEqual(await forcedFrames(forceKeyframesExpression(schedule), 15, 4.3), [0, 23, 30, 60]);
  });

  test('without a short first segment, every segment length', async () => {
    const schedule = segmentScheduleFor(2, 1, [25]);
    assert.deepEqual(await forcedFrames(forceKeyframesExpression(schedule), 25, 6.3), [0, 50, 100, 150]);
  });
});

describe('VariantPackager on the schedule', () => {
  const init = { tracks: [] } as unknown as InitInfo;
  /** Fragments of 0.2 s from `fromSeconds`, a keyframe where the encoder forces one (0, 0.6, 2, 4 …). */
  function fragment(startSeconds: number): FragmentInfo {
    const independent = [0, 0.6, 2, 4].some((k) => Math.abs(k - startSeconds) < 1e-6);
    return { startSeconds, durationSeconds: 0.2, independent } as unknown as FragmentInfo;
  }

  test('cuts a short first segment at its boundary, and is playable only once it is complete', () => {
    const packager = new VariantPackager({
      segmentSeconds: 2,
      firstSegmentSeconds: 0.6,
      partTargetSeconds: 0.2,
      windowSegments: 8,
      epochWallclockMs: 0,
    });
    packager.setInit(new Uint8Array(8), init, 10);
    packager.addFragment(new Uint8Array(4), fragment(0));
    packager.addFragment(new Uint8Array(4), fragment(0.2));
    assert.equal(packager.playable, false, 'two parts of an open segment are not playable');
    assert.deepEqual(packager.nextPart, [0, 2]);
    packager.addFragment(new Uint8Array(4), fragment(0.4));
    assert.equal(packager.playable, true, 'the third part brings the first segment to its boundary');
    assert.equal(packager.segments[0]?.complete, true);
    assert.deepEqual(packager.nextPart, [1, 0], 'the preload hint opens the next segment at the boundary');
    for (let i = 3; i < 20; i++) packager.addFragment(new Uint8Array(4), fragment(Math.round(i * 2) / 10));
    packager.addFragment(new Uint8Array(4), fragment(4));
    const segments = packager.segments.map((s) => [
      s.msn,
      Number(s.durationSeconds.toFixed(3)),
      s.startSeconds,
    ]);
    assert.deepEqual(segments, [
      [0, 0.6, 10],
      [1, 1.4, 10.6],
      [2, 2, 12],
      [3, 0.2, 14],
    ]);
  });

  test('without firstSegmentSeconds, segments are whole from the start', () => {
    const packager = new VariantPackager({
      segmentSeconds: 2,
      partTargetSeconds: 0.2,
      windowSegments: 8,
      epochWallclockMs: 0,
    });
    packager.setInit(new Uint8Array(8), init, 0);
    for (let i = 0; i <= 20; i++) {
      const start = Math.round(i * 2) / 10;
      packager.addFragment(new Uint8Array(4), { ...fragment(start), independent: start % 2 === 0 });
    }
    assert.deepEqual(
      packager.segments.map((s) => Number(s.durationSeconds.toFixed(3))),
      [2, 2, 0.2],
    );
  });
});
