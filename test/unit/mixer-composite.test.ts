/**
 * The mixer composing a layout, on a fake clock: node:test's mock setTimeout and an injected `now` advanced
 * together, 1 ms at a time. Sources are fed through the DecoderSink addSource returns; each tick's picture is
 * checked sample by sample against one built with the i420 drawing functions, and its audio against the sum.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Layout } from '../../src/channel/channel-spec.ts';
import { defaultCeiling } from '../../src/media/audio-limiter.ts';
import {
  black,
  fillRect,
  placeholderColours,
  placeholderPicture,
  solidPicture,
  type Picture,
} from '../../src/media/i420.ts';
import type { Rect } from '../../src/media/layout.ts';
import { Mixer, type MixedTick, type MixerOptions } from '../../src/media/mixer.ts';
import { holdPicture, PicturePool, releasePicture } from '../../src/media/picture-pool.ts';
import { mediaCounters } from '../../src/media/media-counters.ts';
import type { DecoderSink } from '../../src/media/publisher-decoder.ts';

const canvas = { width: 128, height: 72, fps: 30 };
const epochMs = 10_000;
const latencyMs = 100;
const staleMs = 500;
/** Sample frames in one tick at 30 fps. */
const tickFrames = 1600;

type Colour = { y: number; u: number; v: number };
const red: Colour = { y: 81, u: 90, v: 240 };
const blue: Colour = { y: 41, u: 240, v: 110 };
const green: Colour = { y: 145, u: 54, v: 34 };

// Grid of two on 128×72: half-width tiles, the 16:9 picture letterboxed in each.
const leftTile: Rect = { x: 0, y: 0, width: 64, height: 72 };
const rightTile: Rect = { x: 64, y: 0, width: 64, height: 72 };
const leftPicture: Rect = { x: 0, y: 18, width: 64, height: 36 };
const rightPicture: Rect = { x: 64, y: 18, width: 64, height: 36 };
// Pip on 128×72: a quarter-size inset 2 px from the bottom right.
const inset: Rect = { x: 94, y: 52, width: 32, height: 18 };

interface Harness {
  mixer: Mixer;
  ticks: MixedTick[];
  /** Moves the clock on until tick `n` has been output; returns it. */
  runTo: (n: number) => MixedTick;
  /** Adds a source 1 ms after the previous one, so join order is unambiguous. */
  add: (connectionId: string, clientId?: string) => DecoderSink;
}

/**
 * A Mixer on mocked timers whose clock the test moves (`clock.now`); its ticks are kept past the call, so held, as
 * the encoder holds them. Closed after the test.
 */
function mockedMixer(
  t: TestContext,
  options: Pick<MixerOptions, 'composition' | 'latencyMs'> & Partial<MixerOptions>,
): { mixer: Mixer; ticks: MixedTick[]; clock: { now: number } } {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = { now: epochMs };
  const ticks: MixedTick[] = [];
  const mixer = new Mixer({
    canvas,
    epochMs,
    staleMs,
    output: (tick) => {
      holdPicture(tick.video);
      ticks.push(tick);
    },
    now: () => clock.now,
    ...options,
  });
  t.after(() => {
    mixer.close();
  });
  return { mixer, ticks, clock };
}

function harness(t: TestContext, layout: Layout = { type: 'grid' }): Harness {
  const { mixer, ticks, clock } = mockedMixer(t, { composition: { kind: 'layout', layout }, latencyMs });
  let started = false;
  return {
    mixer,
    ticks,
    runTo: (n) => {
      if (!started) {
        mixer.start();
        started = true;
      }
      // Tick n is due at epochMs + latencyMs + n × 33.3 ms; a little more is a sure bound.
      for (let guard = 0; ticks.length <= n; guard++) {
        assert.ok(guard < 1000, `tick ${n} never came (${ticks.length} so far)`);
        clock.now += 1;
        t.mock.timers.tick(1);
      }
      assert.equal(ticks.length, n + 1, 'one tick at a time, none skipped');
      return ticks[n]!;
    },
    add: (connectionId, clientId) => {
      clock.now += 1;
      return mixer.addSource({ connectionId, clientId });
    },
  };
}

const solid = (colour: Colour): Uint8Array => solidPicture(canvas.width, canvas.height, colour).data;

/** The canvas in black with each rectangle filled with its colour, in order. */
function expectedPicture(...fills: [Rect, Colour][]): Uint8Array {
  const picture = solidPicture(canvas.width, canvas.height, black);
  for (const [rect, colour] of fills) fillRect(picture, rect, colour);
  return picture.data;
}

/** Stereo s16 of `frames` frames, left `left` and right `right` throughout. */
function constantAudio(frames: number, left: number, right: number): Int16Array {
  const samples = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    samples[i * 2] = left;
    samples[i * 2 + 1] = right;
  }
  return samples;
}

/** Asserts `video` equals `expected`, naming the first differing sample's plane and position. */
function assertPicture(video: Uint8Array, expected: Uint8Array): void {
  const { width, height } = canvas;
  for (let i = 0; i < expected.length; i++) {
    if (video[i] === expected[i]) continue;
    const luma = width * height;
    const chroma = luma / 4;
    const [plane, index, stride] =
      i < luma
        ? ['Y', i, width]
        : i < luma + chroma
          ? ['U', i - luma, width / 2]
          : ['V', i - luma - chroma, width / 2];
    assert.fail(
      `${plane} (${index % stride}, ${Math.floor(index / stride)}): ${video[i]}, expected ${expected[i]}`,
    );
  }
  assert.equal(video.length, expected.length);
}

/** The luma values inside `rect` of a canvas-size picture. */
function lumaIn(video: Uint8Array, rect: Rect): Set<number> {
  const values = new Set<number>();
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) values.add(video[y * canvas.width + x]!);
  }
  return values;
}

/** The chroma values (U and V) inside `rect` of a canvas-size picture. */
function chromaIn(video: Uint8Array, rect: Rect): Set<number> {
  const values = new Set<number>();
  const luma = canvas.width * canvas.height;
  const stride = canvas.width / 2;
  for (const base of [luma, luma + luma / 4]) {
    for (let y = rect.y / 2; y < (rect.y + rect.height) / 2; y++) {
      for (let x = rect.x / 2; x < (rect.x + rect.width) / 2; x++) values.add(video[base + y * stride + x]!);
    }
  }
  return values;
}

const picture = (data: Uint8Array): Picture => ({ data, width: canvas.width, height: canvas.height });

describe('Mixer composing a grid', () => {
  test('no sources: the slate, black and silence, flagged as slate', (t) => {
    const { runTo, mixer } = harness(t);
    for (let n = 0; n < 3; n++) {
      const tick = runTo(n);
      assert.equal(tick.timeMs, (n * 1000) / 30);
      assert.equal(tick.slate, true);
      assertPicture(tick.video, solid({ y: 16, u: 128, v: 128 }));
      assert.deepEqual(tick.audio, new Int16Array(tickFrames * 2));
    }
    assert.equal(mixer.stats().slateTicks, 3);
    assert.equal(mixer.stats().tiles, 0);
    assert.equal(mixer.stats().pictureLeadMs, undefined, 'no pictures, no lead');
  });

  test('two sources with solid colours: the first letterboxed in the left tile, the second in the right', (t) => {
    const { runTo, add, mixer } = harness(t);
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    add('conn-b').video({ timeMs: 0, data: solid(blue) });
    const tick = runTo(0);
    assert.equal(tick.slate, false);
    assertPicture(tick.video, expectedPicture([leftPicture, red], [rightPicture, blue]));
    assert.equal(mixer.stats().tiles, 2);
  });

  test('a source removed: the next tick is the other one’s picture full frame, the very same buffer', (t) => {
    const { runTo, add, mixer } = harness(t);
    const a = solid(red);
    const b = solid(blue);
    add('conn-a').video({ timeMs: 0, data: a });
    add('conn-b').video({ timeMs: 0, data: b });
    assertPicture(runTo(0).video, expectedPicture([leftPicture, red], [rightPicture, blue]));
    mixer.removeSource('conn-a');
    const tick = runTo(1);
    assert.equal(tick.video, b, 'passed through, not copied');
    assert.equal(tick.slate, false);
    assert.equal(mixer.stats().tiles, 1);
    assert.deepEqual(b, solid(blue), 'the source’s picture is not drawn on');
  });

  test('a source without pictures: the placeholder in its tile, the other source in its own', (t) => {
    const { runTo, add } = harness(t);
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    add('conn-b');
    const tick = runTo(0);
    assert.equal(tick.slate, false, 'one publisher is shown');
    const { background, figure } = placeholderColours;
    assert.deepEqual(lumaIn(tick.video, rightTile), new Set([background.y, figure.y]));
    assert.deepEqual(chromaIn(tick.video, rightTile), new Set([background.u, background.v]));
    // The left tile is as if the right one were not there.
    const expected = picture(expectedPicture([leftPicture, red]));
    fillRect(expected, rightTile, { y: 0, u: 0, v: 0 });
    const actual = picture(tick.video.slice());
    fillRect(actual, rightTile, { y: 0, u: 0, v: 0 });
    assertPicture(actual.data, expected.data);
  });

  test('a single source without pictures: the placeholder full frame, flagged as slate', (t) => {
    const { runTo, add } = harness(t);
    add('conn-a');
    const tick = runTo(0);
    assert.equal(tick.slate, true);
    const { background, figure } = placeholderColours;
    const whole = { x: 0, y: 0, width: canvas.width, height: canvas.height };
    assert.deepEqual(lumaIn(tick.video, whole), new Set([background.y, figure.y]));
    assert.deepEqual(chromaIn(tick.video, whole), new Set([background.u, background.v]));
  });

  test('a single source without pictures: the same shared placeholder at every tick, never drawn into the pool', (t) => {
    const { runTo, add } = harness(t);
    add('conn-a');
    const first = runTo(0).video;
    assert.equal(runTo(1).video, first);
    assert.equal(runTo(2).video, first);
    assert.equal(first, placeholderPicture(canvas.width, canvas.height).data);
  });

  test('pip with three sources, only the third (not shown) sending pictures: only placeholders shown, flagged as slate', (t) => {
    const { runTo, add } = harness(t, { type: 'pip' });
    add('conn-a');
    add('conn-b');
    add('conn-c').video({ timeMs: 0, data: solid(red) });
    const tick = runTo(0);
    assert.ok(
      !lumaIn(tick.video, { x: 0, y: 0, width: 128, height: 72 }).has(red.y),
      'the third is not shown',
    );
    assert.equal(tick.slate, true);
  });

  test('a picture is shown from its own time on, and the newest due picture wins', (t) => {
    const { runTo, add } = harness(t);
    const sink = add('conn-a');
    add('conn-b').video({ timeMs: 0, data: solid(blue) });
    sink.video({ timeMs: 50, data: solid(red) });
    sink.video({ timeMs: 60, data: solid(green) });
    // Ticks at 0 and 33.3 ms: nothing of conn-a's is due yet.
    for (const n of [0, 1])
      assert.deepEqual(lumaIn(runTo(n).video, leftTile), new Set([48, 112]), `tick ${n}`);
    // Tick at 66.7 ms: both are due; the later one is shown.
    assertPicture(runTo(2).video, expectedPicture([leftPicture, green], [rightPicture, blue]));
  });

  test(`a source whose newest picture is more than ${staleMs} ms old is shown as absent`, (t) => {
    const { runTo, add } = harness(t);
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    const b = add('conn-b');
    for (let n = 0; n <= 16; n++) b.video({ timeMs: (n * 1000) / 30, data: solid(blue) });
    // Tick 15 is at 500 ms: just fresh; tick 16 at 533 ms: stale.
    assertPicture(runTo(15).video, expectedPicture([leftPicture, red], [rightPicture, blue]));
    const tick = runTo(16);
    assert.deepEqual(lumaIn(tick.video, leftTile), new Set([48, 112]));
    assert.deepEqual(lumaIn(tick.video, rightPicture), new Set([blue.y]));
  });

  test('a source steadily 1.5 s late shows its late pictures with its sound, and the placeholder once it stops sending', (t) => {
    const { runTo, add, mixer } = harness(t);
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    const b = add('conn-b');
    const lateMs = 1500;
    // Each of conn-b's pictures, and the sound with it, arrives just before the tick 1.5 s after its own time (a
    // slow decoder): both are played late, together.
    for (let n = 0; n <= 30; n++) {
      const colour = n % 2 === 0 ? blue : green;
      b.video({ timeMs: (n * 1000) / 30 - lateMs, data: solid(colour) });
      b.audio({
        firstSample: n * tickFrames - (lateMs * 48_000) / 1000,
        samples: constantAudio(tickFrames, n, n),
      });
      const tick = runTo(n);
      assert.deepEqual(lumaIn(tick.video, rightPicture), new Set([colour.y]), `tick ${n}`);
      // The first chunk came before the mixer started, so nothing was late yet: it was too old to play.
      if (n > 0)
        assert.ok(
          tick.audio.every((sample) => sample === n),
          `tick ${n}: the sound sent with its picture`,
        );
    }
    assert.equal(mixer.stats().maxAudioDelayMs, lateMs);
    // Each of conn-b's pictures came one tick before its tick 1.5 s back had been made; conn-a's one before start.
    const lead = mixer.stats().pictureLeadMs;
    assert.ok(lead !== undefined);
    assert.equal(lead.min, Math.round(1000 / 30 - lateMs));
    assert.equal(lead.p50, Math.round(1000 / 30 - lateMs));
    // The last picture arrived while tick 29 (967 ms) had just been made: fresh until 1467 ms (tick 44).
    assert.deepEqual(lumaIn(runTo(44).video, rightPicture), new Set([blue.y]), 'tick 44');
    const stale = runTo(45);
    assert.deepEqual(lumaIn(stale.video, rightTile), new Set([48, 112]), 'tick 45: the placeholder');
    assert.equal(stale.slate, true, 'conn-a too sent its only picture long ago');
  });

  test('setLayout pip: from the next tick the first source full frame, the second in the inset', (t) => {
    const { runTo, add, mixer } = harness(t);
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    add('conn-b').video({ timeMs: 0, data: solid(blue) });
    assertPicture(runTo(0).video, expectedPicture([leftPicture, red], [rightPicture, blue]));
    mixer.setLayout({ type: 'pip' });
    assertPicture(
      runTo(1).video,
      expectedPicture([{ x: 0, y: 0, width: 128, height: 72 }, red], [inset, blue]),
    );
    mixer.setLayout({ type: 'grid' });
    assertPicture(runTo(2).video, expectedPicture([leftPicture, red], [rightPicture, blue]));
  });

  test('layout order by client_id puts the named source first, whatever the join order', (t) => {
    const { runTo, add, mixer } = harness(t, { type: 'grid', order: ['client-b'] });
    add('conn-a', 'client-a').video({ timeMs: 0, data: solid(red) });
    add('conn-b', 'client-b').video({ timeMs: 0, data: solid(blue) });
    add('conn-c', 'client-c').video({ timeMs: 0, data: solid(green) });
    // Three in a 2×2 grid: 64×36 tiles, the third centred in the second row.
    const tiles: Rect[] = [
      { x: 0, y: 0, width: 64, height: 36 },
      { x: 64, y: 0, width: 64, height: 36 },
      { x: 32, y: 36, width: 64, height: 36 },
    ];
    const ordered = (...colours: Colour[]): Uint8Array =>
      expectedPicture(...colours.map((colour, index): [Rect, Colour] => [tiles[index]!, colour]));
    assertPicture(runTo(0).video, ordered(blue, red, green));
    mixer.setLayout({ type: 'grid', order: ['conn-c', 'client-a'] });
    assertPicture(runTo(1).video, ordered(green, red, blue));
    mixer.setLayout({ type: 'grid' });
    assertPicture(runTo(2).video, ordered(red, blue, green));
  });
});

describe('Mixer audio in a composite', () => {
  test('two sources are summed sample by sample, each tick exactly its 1600 frames', (t) => {
    const { runTo, add } = harness(t);
    const a = add('conn-a');
    const b = add('conn-b');
    a.audio({ firstSample: 0, samples: constantAudio(tickFrames * 3, 1000, -2000) });
    // The second source in 20 ms chunks, as Opus decodes.
    for (let first = 0; first < tickFrames * 3; first += 960) {
      b.audio({ firstSample: first, samples: constantAudio(960, 300, 400) });
    }
    for (let n = 0; n < 3; n++) {
      const tick = runTo(n);
      assert.deepEqual(tick.audio, constantAudio(tickFrames, 1300, -1600), `tick ${n}`);
    }
  });

  test('one source’s audio comes out sample-exact across ticks, whatever its chunk boundaries', (t) => {
    const { runTo, add } = harness(t);
    const sink = add('conn-a');
    const frames = tickFrames * 4;
    const all = new Int16Array(frames * 2).map((_, i) => ((i * 37) % 20_001) - 10_000);
    for (let first = 0; first < frames;) {
      const size = Math.min(frames - first, 700 + (first % 3) * 211);
      sink.audio({ firstSample: first, samples: all.subarray(first * 2, (first + size) * 2) });
      first += size;
    }
    const out = new Int16Array(frames * 2);
    for (let n = 0; n < 4; n++) out.set(runTo(n).audio, n * tickFrames * 2);
    assert.deepEqual(out, all);
  });

  test('two loud sources are limited, never past the ceiling and never wrapped', (t) => {
    const { runTo, add, mixer } = harness(t);
    add('conn-a').audio({ firstSample: 0, samples: constantAudio(tickFrames * 2, 25_000, -25_000) });
    add('conn-b').audio({ firstSample: 0, samples: constantAudio(tickFrames * 2, 25_000, -25_000) });
    for (let n = 0; n < 2; n++) {
      const { audio } = runTo(n);
      for (let i = 0; i < audio.length; i += 2) {
        assert.ok(audio[i]! >= defaultCeiling - 1 && audio[i]! <= defaultCeiling, `left ${audio[i]}`);
        assert.ok(audio[i + 1]! <= -(defaultCeiling - 1) && audio[i + 1]! >= -defaultCeiling, `right`);
      }
    }
    const { limiter } = mixer.stats();
    assert.equal(limiter.limitedBlocks, 2);
    assert.ok(Math.abs(limiter.minGain - defaultCeiling / 50_000) < 1e-12);
  });

  test('the silence a decoder fills a pause with, arriving late all at once, does not hold back the sound after it', (t) => {
    const { runTo, add, mixer } = harness(t);
    const sink = add('conn-a');
    sink.audio({ firstSample: 0, samples: constantAudio(tickFrames * 3, 100, 100) });
    for (let n = 0; n < 3; n++) assert.equal(runTo(n).audio[0], 100, `tick ${n}`);
    // A 1 s pause: ticks 3-32 go by with nothing from conn-a.
    for (let n = 3; n < 33; n++) assert.equal(runTo(n).audio[0], 0, `tick ${n}`);
    // The sound comes back: first the second of silence the decoder filled the pause with, then sound on time.
    sink.audio({ firstSample: tickFrames * 3, samples: new Int16Array(tickFrames * 30 * 2) });
    sink.audio({ firstSample: tickFrames * 33, samples: constantAudio(tickFrames * 3, 300, 300) });
    for (let n = 33; n < 36; n++) {
      assert.ok(
        runTo(n).audio.every((sample) => sample === 300),
        `tick ${n}: the sound after the pause, on time`,
      );
    }
    assert.equal(mixer.stats().maxAudioDelayMs, 0);
  });

  test('sound from a late decoder is delayed, not lost; on-time sound is never delayed', (t) => {
    const { runTo, add, mixer } = harness(t);
    const late = add('conn-late');
    const onTime = add('conn-on-time');
    onTime.audio({ firstSample: 0, samples: constantAudio(tickFrames * 6, 10, 10) });
    for (let n = 0; n < 3; n++) assert.equal(runTo(n).audio[0], 10, `tick ${n}: only the on-time source`);
    // Ticks 0-2 (samples 0-4799) are played: a chunk for samples 0-6399 arrives 100 ms late.
    late.audio({ firstSample: 0, samples: constantAudio(tickFrames * 4, 1000, 1000) });
    for (let n = 3; n < 6; n++) {
      const { audio } = runTo(n);
      assert.ok(
        audio.every((sample) => sample === 1010),
        `tick ${n}: the late source's sound, 100 ms behind, with the on-time one`,
      );
    }
    const stats = mixer.stats();
    assert.equal(stats.maxAudioDelayMs, 100);
    assert.equal(stats.audioSamplesDropped, 0);
  });
});

describe('the mixer and pooled pictures', () => {
  const bytes = (canvas.width * canvas.height * 3) / 2;

  /** A pool picture of one colour, as a decoder hands it over (held once, by the decoder, for the call). */
  function decoded(pool: PicturePool, colour: Colour): Uint8Array {
    const data = pool.take();
    data.set(solid(colour));
    return data;
  }

  test('a source’s pictures are held while queued or shown, and each goes back to its pool once replaced', (t) => {
    const over = mediaCounters.picturesReleasedUnheld;
    const { runTo, add } = harness(t, { type: 'grid' });
    const pool = new PicturePool(bytes);
    const sink = add('conn-a');
    const pictures = [red, blue, green].map((colour, n) => {
      const data = decoded(pool, colour);
      sink.video({ timeMs: (n * 1000) / 30, data });
      releasePicture(data); // the decoder lets go once the sinks have it
      return data;
    });
    assert.equal(pool.stats().spare, 0, 'all three queued');
    const first = runTo(0);
    assert.equal(first.video, pictures[0], 'one source full frame: its own picture, passed through');
    assertPicture(first.video, solid(red));
    releasePicture(first.video); // the harness held it, as the encoder would until written
    assert.equal(pool.stats().spare, 0, 'the shown picture stays held by the mixer');
    runTo(1);
    assert.equal(pool.stats().spare, 1, 'the first picture, replaced, is back in the pool');
    assert.equal(pool.take(), pictures[0], 'and is handed out again');
    assert.equal(mediaCounters.picturesReleasedUnheld, over);
  });

  test('a picture written to the encoder is not reused until the write lets go of it', (t) => {
    const { runTo, add } = harness(t, { type: 'grid' });
    const pool = new PicturePool(bytes);
    const sink = add('conn-a');
    for (let n = 0; n < 2; n++) {
      const data = decoded(pool, n === 0 ? red : blue);
      sink.video({ timeMs: (n * 1000) / 30, data });
      releasePicture(data);
    }
    const shown = runTo(0).video; // held by the harness (a write in flight)
    runTo(1);
    assert.equal(pool.stats().spare, 0, 'replaced in the mixer, still held by the write');
    assertPicture(shown, solid(red));
    releasePicture(shown);
    assert.equal(pool.stats().spare, 1);
  });

  test('a source that leaves, and a mixer that closes, let go of every picture they held', (t) => {
    const { runTo, add, mixer } = harness(t, { type: 'grid' });
    const pool = new PicturePool(bytes);
    const a = add('conn-a');
    const b = add('conn-b');
    for (let n = 0; n < 4; n++) {
      for (const sink of [a, b]) {
        const data = decoded(pool, red);
        sink.video({ timeMs: (n * 1000) / 30, data });
        releasePicture(data);
      }
    }
    releasePicture(runTo(0).video); // a composite: from the mixer's own pool
    assert.equal(pool.stats().spare, 0);
    mixer.removeSource('conn-a');
    assert.equal(pool.stats().spare, 4, 'conn-a’s shown picture and its three queued');
    mixer.close();
    assert.equal(pool.stats().spare, 8);
  });

  test('composite pictures are drawn into reused pictures, each only once its holder lets go', (t) => {
    const { runTo, add } = harness(t, { type: 'grid' });
    add('conn-a').video({ timeMs: 0, data: solid(red) });
    add('conn-b').video({ timeMs: 0, data: solid(blue) });
    const first = runTo(0).video;
    const second = runTo(1).video;
    assert.notEqual(second, first, 'the first is still held: a new picture is drawn');
    releasePicture(first);
    const third = runTo(2).video;
    assert.equal(third, first, 'released, it is drawn into again');
    assertPicture(third, expectedPicture([leftPicture, red], [rightPicture, blue]));
    assertPicture(second, expectedPicture([leftPicture, red], [rightPicture, blue]));
  });
});

const wholeCanvas: Rect = { x: 0, y: 0, width: canvas.width, height: canvas.height };

/**
 * A one-source mixer whose delay adapts from 200 ms down to 0, run on the fake clock 1 ms at a time for `seconds`.
 * Canvas frame n is sent (`send`) once the undelayed channel clock reaches `arrivesMs(n)`, frames in order.
 */
function runAdaptive(
  t: TestContext,
  seconds: number,
  arrivesMs: (frame: number) => number,
  send: (sink: DecoderSink, frame: number) => void,
): { mixer: Mixer; ticks: MixedTick[] } {
  const { mixer, ticks, clock } = mockedMixer(t, {
    composition: { kind: 'single' },
    latencyMs: 200,
    minLatencyMs: 0,
  });
  const sink = mixer.addSource({ connectionId: 'conn-a' });
  let sent = 0;
  mixer.start();
  for (; clock.now < epochMs + seconds * 1000; clock.now += 1) {
    while (arrivesMs(sent) <= clock.now - epochMs) {
      send(sink, sent);
      sent += 1;
    }
    t.mock.timers.tick(1);
  }
  return { mixer, ticks };
}

const frameTimeMs = (frame: number): number => (frame * 1000) / 30;

describe('Mixer with a delay that adapts (minLatencyMs)', () => {
  test('pictures and sound 100 ms early: it composes sooner, down to the least, skipping and repeating nothing', (t) => {
    const colours = [red, blue, green];
    // Picture n and its sound arrive 100 ms before their time on the channel clock.
    const { mixer, ticks } = runAdaptive(
      t,
      15,
      (n) => frameTimeMs(n) - 100,
      (sink, n) => {
        sink.video({ timeMs: frameTimeMs(n), data: solid(colours[n % 3]!) });
        sink.audio({ firstSample: n * tickFrames, samples: constantAudio(tickFrames, n, n) });
      },
    );
    const stats = mixer.stats();
    assert.equal(stats.delayMs, 0, 'down to the least');
    assert.equal(stats.latePictures, 0);
    assert.equal(stats.lateTicksSkipped, 0);
    // Made up to the channel clock itself, not 200 ms behind it: 450 ticks in 15 s, not 444.
    assert.ok(ticks.length >= 449, `${ticks.length} ticks`);
    ticks.forEach((tick, n) => {
      assert.equal(tick.timeMs, frameTimeMs(n), `tick ${n} in its place`);
      // Each tick shows its own picture with its own sound: none skipped, none shown twice.
      assert.deepEqual(lumaIn(tick.video, wholeCanvas), new Set([colours[n % 3]!.y]), `tick ${n}`);
      if (n > 0)
        assert.ok(
          tick.audio.every((sample) => sample === n),
          `tick ${n}: its sound`,
        );
    });
  });

  test('repeats filling a gap in the input, late by nature, neither count as late nor hold the delay up', (t) => {
    // The source's pictures come 100 ms early, but it sends none for the last 400 ms of every 2 s: the decoder
    // fills those 12 frames with repeats of the picture before, and lets them out only with the next picture it
    // is given, up to 367 ms after their time.
    const inGap = (frame: number): boolean => frame % 60 >= 48;
    const { mixer } = runAdaptive(
      t,
      15,
      (n) => {
        let next = n;
        while (inGap(next)) next += 1;
        return frameTimeMs(next) - 100;
      },
      (sink, n) => {
        const timeMs = frameTimeMs(n);
        sink.video(inGap(n) ? { timeMs, data: solid(red), repeated: true } : { timeMs, data: solid(red) });
      },
    );
    const stats = mixer.stats();
    assert.equal(stats.latePictures, 0, 'late pictures');
    assert.equal(stats.delayMs, 0, 'delay');
    assert.ok((stats.pictureLeadMs?.min ?? -1) >= 0, JSON.stringify(stats.pictureLeadMs));
  });

  test('a picture later than the delay allows raises it at once: the ticks after it wait, and show it', (t) => {
    // On time (0 ms early) until 15 s; from then on each picture comes 120 ms after its time.
    const { mixer, ticks } = runAdaptive(
      t,
      20,
      (n) => frameTimeMs(n) + (frameTimeMs(n) >= 15_000 ? 120 : 0),
      (sink, n) => {
        sink.video({ timeMs: frameTimeMs(n), data: solid(n % 2 === 0 ? red : blue) });
      },
    );
    const stats = mixer.stats();
    // The lateness and the margin; arrivals come on whole milliseconds, up to 1 ms later still.
    assert.ok(stats.delayMs >= 150 && stats.delayMs <= 151, `${stats.delayMs} ms`);
    assert.ok(stats.latePictures <= 5, `${stats.latePictures} shown late while it rose`);
    // After the rise every tick shows its own picture again.
    const last = ticks.length - 1;
    for (let n = last - 30; n <= last; n++) {
      assert.deepEqual(
        lumaIn(ticks[n]!.video, wholeCanvas),
        new Set([(n % 2 === 0 ? red : blue).y]),
        `tick ${n}`,
      );
    }
    ticks.forEach((tick, n) => {
      assert.equal(tick.timeMs, frameTimeMs(n), `tick ${n} in its place`);
    });
  });
});
