/**
 * fMP4 reading (ISO/IEC 14496-12, CMAF): Fmp4Splitter, parseInit and parseFragment checked against real ffmpeg
 * output made at test time and against what ffprobe and ffmpeg's own SPS parser say about it; hand-made boxes for
 * the field precedence rules; malformed and mutated input only ever throws ParseError.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  Fmp4Splitter,
  parseFragment,
  type FragmentInfo,
  type Fmp4Unit,
  type InitInfo,
} from '../../src/hls/format/fmp4-reader.ts';
import {
  ascii,
  box,
  concat,
  fullBox,
  makeFixture,
  topLevelBoxes,
  u32,
  u64,
  type Fixture,
  type FixtureSpec,
} from '../helpers/fmp4-fixtures.ts';

const specs: readonly FixtureSpec[] = [
  { name: 'main-500ms', profile: 'main', fragDurationUs: 500000 },
  { name: 'baseline-333ms', profile: 'baseline', fragDurationUs: 333333 },
  { name: 'high-bframes-333ms', profile: 'high', bFrames: 2, fragDurationUs: 333333 },
  { name: 'opus-audio-only', fragDurationUs: 500000 },
];
/** What the init must say for each, written out (ffprobe: Main/Constrained Baseline/High, level 30). */
const expectedCodecs: Record<string, readonly string[]> = {
  'main-500ms': ['avc1.4D401E', 'mp4a.40.2'],
  'baseline-333ms': ['avc1.42C01E', 'mp4a.40.2'],
  'high-bframes-333ms': ['avc1.64001E', 'mp4a.40.2'],
  'opus-audio-only': ['Opus'],
};

let dir = '';
const fixtures = new Map<string, Fixture>();
const fixture = (name: string): Fixture => {
  const found = fixtures.get(name);
  if (found === undefined) throw new Error(`no fixture ${name}`);
  return found;
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nagare-fmp4-'));
  for (const made of await Promise.all(specs.map((spec) => makeFixture(dir, spec)))) {
    fixtures.set(made.spec.name, made);
  }
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const splitWhole = (bytes: Uint8Array): Fmp4Unit[] => {
  const splitter = new Fmp4Splitter();
  return [...splitter.push(bytes), ...splitter.flush()];
};

/** Feeds `bytes` in chunks whose sizes cycle through `sizes`, checking no pushed chunk is modified. */
const splitChunked = (bytes: Uint8Array, sizes: readonly number[]): Fmp4Unit[] => {
  const splitter = new Fmp4Splitter();
  const units: Fmp4Unit[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const chunk = bytes.slice(at, at + (sizes[i % sizes.length] ?? 1));
    const before = chunk.slice();
    units.push(...splitter.push(chunk));
    assert.deepEqual(chunk, before, 'a pushed chunk was modified');
    at += chunk.length;
  }
  return [...units, ...splitter.flush()];
};

const fragments = (units: readonly Fmp4Unit[]): FragmentInfo[] =>
  units.flatMap((unit) => (unit.type === 'fragment' ? [unit.info] : []));

const initOf = (units: readonly Fmp4Unit[]): InitInfo => {
  const [first] = units;
  if (first?.type !== 'init') return assert.fail('the first unit is not the init');
  return first.info;
};

describe('Fmp4Splitter on ffmpeg CMAF output', () => {
  test('splits into one init then fragments that start with moof and end with mdat, dropping only mfra', () => {
    for (const { spec, bytes } of fixtures.values()) {
      const splitter = new Fmp4Splitter();
      const units = [...splitter.push(bytes), ...splitter.flush()];
      assert.deepEqual(
        units.map((unit) => unit.type),
        ['init', ...Array<string>(units.length - 1).fill('fragment')],
        spec.name,
      );
      assert.deepEqual(
        topLevelBoxes(units[0]!.bytes).map((b) => b.type),
        ['ftyp', 'moov'],
      );
      for (const unit of units.slice(1)) {
        assert.deepEqual(
          topLevelBoxes(unit.bytes).map((b) => b.type),
          ['moof', 'mdat'],
        );
      }
      const mfra = topLevelBoxes(bytes).at(-1)!;
      assert.equal(mfra.type, 'mfra', 'ffmpeg ends the stream with an mfra, even on a pipe');
      assert.deepEqual(concat(...units.map((u) => u.bytes)), bytes.subarray(0, mfra.start));
      assert.deepEqual(splitter.stats(), {
        bytesIn: bytes.length,
        initUnits: 1,
        fragmentUnits: units.length - 1,
        skippedBytes: mfra.size,
        pendingBytes: 0,
      });
    }
  });

  test('gives the same units whether fed whole or in random chunks (property, seeded)', () => {
    const { bytes } = fixture('main-500ms');
    const whole = splitWhole(bytes);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        assert.deepEqual(splitChunked(bytes, sizes), whole);
      }),
      { seed: 14496, numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (sizes) => {
        assert.deepEqual(splitChunked(bytes, sizes), whole);
      }),
      { seed: 14497, numRuns: 4 },
    );
  });

  test('keeps styp/prft before a moof in that fragment and drops a free box between fragments', () => {
    const units = splitWhole(fixture('main-500ms').bytes);
    const styp = box('styp', ascii('cmfs'), u32(0), ascii('cmfs'));
    const prft = fullBox('prft', 1, 0, u32(1), u64(0n), u64(0n));
    const free = box('free', ascii('padding'));
    const [init, first, second] = units;
    const stream = concat(init!.bytes, styp, prft, first!.bytes, free, second!.bytes);
    const splitter = new Fmp4Splitter();
    const split = [...splitter.push(stream), ...splitter.flush()];
    assert.deepEqual(split[0]!.bytes, init!.bytes);
    assert.deepEqual(split[1]!.bytes, concat(styp, prft, first!.bytes));
    assert.deepEqual(split[2]!.bytes, second!.bytes);
    assert.equal(splitter.stats().skippedBytes, free.length);
    assert.deepEqual(split[1]!.info, first!.info);
  });

  test('flush returns an init that no fragment followed', () => {
    const [init] = splitWhole(fixture('main-500ms').bytes);
    const splitter = new Fmp4Splitter();
    assert.deepEqual(splitter.push(init!.bytes), []);
    assert.deepEqual(splitter.flush(), [init]);
    assert.deepEqual(splitter.flush(), []);
  });
});

describe('parseInit on ffmpeg output', () => {
  test('codec strings, sizes and audio format match ffprobe and the SPS', () => {
    for (const { spec, bytes, probe } of fixtures.values()) {
      const info = initOf(splitWhole(bytes));
      assert.deepEqual(
        info.tracks.map((t) => t.codec),
        expectedCodecs[spec.name],
        spec.name,
      );
      const video = info.tracks.find((t) => t.handler === 'vide');
      const audio = info.tracks.find((t) => t.handler === 'soun')!;
      const probeVideo = probe.streams.find((s) => s.codec_type === 'video');
      const probeAudio = probe.streams.find((s) => s.codec_type === 'audio')!;
      if (video !== undefined && probeVideo !== undefined && probe.sps !== undefined) {
        const { profileIdc, constraintFlags, levelIdc } = probe.sps;
        const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
        assert.equal(video.codec, `avc1.${hex(profileIdc)}${hex(constraintFlags)}${hex(levelIdc)}`);
        assert.equal(levelIdc, probeVideo.level);
        assert.equal(
          profileIdc,
          { Main: 77, 'Constrained Baseline': 66, High: 100 }[probeVideo.profile ?? ''],
        );
        assert.deepEqual([video.width, video.height], [probeVideo.width, probeVideo.height]);
        assert.equal(`1/${video.timescale}`, probeVideo.time_base);
      }
      assert.equal(audio.sampleRate, Number(probeAudio.sample_rate));
      assert.equal(audio.channels, probeAudio.channels, 'mono, though the sample entry says 2');
      assert.equal(`1/${audio.timescale}`, probeAudio.time_base);
    }
  });
});

describe('parseFragment on ffmpeg output', () => {
  test('durations add up to the stream duration within one frame, and each tfdt follows the last', () => {
    for (const { spec, bytes, probe } of fixtures.values()) {
      const units = splitWhole(bytes);
      const init = initOf(units);
      for (const track of init.tracks) {
        const runs = fragments(units).flatMap((f) => f.tracks.filter((t) => t.trackId === track.trackId));
        let expectedStart = 0;
        for (const run of runs) {
          assert.equal(run.baseMediaDecodeTime, expectedStart, `${spec.name} track ${track.trackId}`);
          expectedStart += run.durationTicks;
        }
        const kind = track.handler === 'vide' ? 'video' : 'audio';
        const probed = Number(probe.streams.find((s) => s.codec_type === kind)!.duration);
        const frame = kind === 'video' ? 1 / 30 : 1024 / 48000;
        assert.ok(Math.abs(expectedStart / track.timescale - probed) <= frame, `${spec.name} ${kind}`);
      }
      assert.deepEqual(
        fragments(units).map((f) => f.sequenceNumber),
        fragments(units).map((_, i) => i + 1),
      );
    }
  });

  test('independent is true exactly for fragments that start at a keyframe (every 2 s)', () => {
    for (const { spec, bytes, probe } of [...fixtures.values()].filter((f) => f.spec.profile !== undefined)) {
      const units = splitWhole(bytes);
      const videoId = initOf(units).tracks.find((t) => t.handler === 'vide')!.trackId;
      let sampleIndex = 0;
      const seen: number[] = [];
      for (const info of fragments(units)) {
        const video = info.tracks.find((t) => t.trackId === videoId);
        const packet = probe.videoPackets[sampleIndex];
        assert.equal(info.independent, packet?.key ?? false, `${spec.name} fragment ${info.sequenceNumber}`);
        if (video !== undefined) assert.equal(video.baseMediaDecodeTime, packet?.dts);
        if (info.independent) seen.push(info.startSeconds);
        sampleIndex += video?.sampleCount ?? 0;
      }
      assert.equal(sampleIndex, probe.videoPackets.length);
      assert.deepEqual(seen, [0, 2], spec.name);
      const fragmentSeconds = spec.fragDurationUs / 1e6;
      for (const info of fragments(units).slice(0, -2)) {
        assert.ok(Math.abs(info.durationSeconds - fragmentSeconds) < 1 / 30, `${spec.name} fragment length`);
      }
    }
  });

  test('a fragment without video in a stream with video is not independent (ffmpeg audio tail)', () => {
    const units = splitWhole(fixture('high-bframes-333ms').bytes);
    const last = fragments(units).at(-1)!;
    assert.equal(last.tracks.length, 1);
    assert.equal(last.independent, false);
    assert.ok(last.durationSeconds < 0.1);
  });
});

// ---- hand-made fragments: field precedence (ISO/IEC 14496-12 §8.8.7, §8.8.8, §8.8.12) ----

const sync = 0x02000000;
const nonSync = 0x01010000;
const handInit: InitInfo = {
  tracks: [
    {
      trackId: 1,
      handler: 'vide',
      timescale: 90000,
      sampleEntry: 'avc1',
      codec: 'avc1.42C01E',
      defaults: { sampleDescriptionIndex: 1, sampleDurationTicks: 3000, sampleSize: 0, sampleFlags: nonSync },
    },
  ],
};

interface HandFragment {
  readonly tfhdFlags?: number;
  readonly tfhdFields?: readonly Uint8Array[];
  readonly tfdt?: Uint8Array;
  readonly trunFlags: number;
  readonly trunFields: readonly Uint8Array[];
  readonly sampleCount: number;
}

const handFragment = (f: HandFragment): Uint8Array =>
  concat(
    box(
      'moof',
      fullBox('mfhd', 0, 0, u32(7)),
      box(
        'traf',
        fullBox('tfhd', 0, f.tfhdFlags ?? 0, u32(1), ...(f.tfhdFields ?? [])),
        f.tfdt ?? fullBox('tfdt', 0, 0, u32(90000)),
        fullBox('trun', 0, f.trunFlags, u32(f.sampleCount), ...f.trunFields),
      ),
    ),
    box('mdat'),
  );

const handCases: readonly {
  name: string;
  fragment: HandFragment;
  want: {
    baseMediaDecodeTime?: number;
    durationTicks: number;
    sampleCount: number;
    firstSampleIsSync: boolean;
  };
}[] = [
  {
    name: 'per-sample durations are summed; first_sample_flags says sync',
    fragment: { trunFlags: 0x104, trunFields: [u32(sync), u32(3000), u32(3003)], sampleCount: 2 },
    want: { durationTicks: 6003, sampleCount: 2, firstSampleIsSync: true },
  },
  {
    name: 'tfhd default duration × count; tfhd default flags non-sync',
    fragment: {
      tfhdFlags: 0x28,
      tfhdFields: [u32(1500), u32(0x00010000)],
      trunFlags: 0,
      trunFields: [],
      sampleCount: 4,
    },
    want: { durationTicks: 6000, sampleCount: 4, firstSampleIsSync: false },
  },
  {
    name: 'trex default duration; the first sample flags say sync',
    fragment: { trunFlags: 0x400, trunFields: [u32(sync), u32(nonSync)], sampleCount: 2 },
    want: { durationTicks: 6000, sampleCount: 2, firstSampleIsSync: true },
  },
  {
    name: 'first_sample_flags wins over the first sample flags',
    fragment: { trunFlags: 0x404, trunFields: [u32(nonSync), u32(sync), u32(nonSync)], sampleCount: 2 },
    want: { durationTicks: 6000, sampleCount: 2, firstSampleIsSync: false },
  },
  {
    name: 'trex default flags when neither trun nor tfhd has any',
    fragment: { trunFlags: 0x001, trunFields: [u32(0)], sampleCount: 1 },
    want: { durationTicks: 3000, sampleCount: 1, firstSampleIsSync: false },
  },
  {
    name: 'tfhd optional fields before the defaults are skipped (base_data_offset, description index)',
    fragment: {
      tfhdFlags: 0x3b,
      tfhdFields: [u64(1n), u32(1), u32(1001), u32(100), u32(sync)],
      trunFlags: 0,
      trunFields: [],
      sampleCount: 3,
    },
    want: { durationTicks: 3003, sampleCount: 3, firstSampleIsSync: true },
  },
  {
    name: 'tfdt version 1 above 2^32',
    fragment: {
      tfdt: fullBox('tfdt', 1, 0, u64(2n ** 40n + 5n)),
      trunFlags: 0,
      trunFields: [],
      sampleCount: 1,
    },
    want: { baseMediaDecodeTime: 2 ** 40 + 5, durationTicks: 3000, sampleCount: 1, firstSampleIsSync: false },
  },
  {
    name: 'an empty trun',
    fragment: { trunFlags: 0, trunFields: [], sampleCount: 0 },
    want: { durationTicks: 0, sampleCount: 0, firstSampleIsSync: false },
  },
];

describe('parseFragment field precedence (hand-made boxes)', () => {
  for (const { name, fragment, want } of handCases) {
    test(name, () => {
      const bytes = handFragment(fragment);
      const copy = bytes.slice();
      const info = parseFragment(bytes, handInit);
      const [track] = info.tracks;
      assert.deepEqual(track, { trackId: 1, baseMediaDecodeTime: 90000, timescale: 90000, ...want });
      assert.equal(info.sequenceNumber, 7);
      assert.equal(info.independent, want.firstSampleIsSync);
      assert.deepEqual(bytes, copy);
    });
  }
});
