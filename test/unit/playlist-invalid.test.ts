/**
 * Playlist inputs that would make an invalid playlist (RFC 8216bis-16) throw a RangeError naming the field and
 * the rule, and write nothing: one row per rule, each a small change to a valid LL-HLS input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  renderMediaPlaylist,
  renderMultivariant,
  type MediaPlaylistInput,
  type MediaSegment,
  type MultivariantPlaylistInput,
} from '../../src/hls/format/playlist.ts';

const segment = (msn: number, extra: Partial<MediaSegment> = {}): MediaSegment => ({
  msn,
  uri: `${msn}.m4s`,
  durationSeconds: 2,
  complete: true,
  parts: [0, 1, 2, 3].map((i) => ({ uri: `${msn}.${i}.m4s`, durationSeconds: 0.5, independent: i === 0 })),
  ...extra,
});

/** Valid: 2 s segments of four 0.5 s parts, the newest open, 20 s listed so a delta update can skip. */
const valid: MediaPlaylistInput = {
  targetDurationSeconds: 2,
  partTargetSeconds: 0.5,
  mediaSequence: 100,
  mapUri: 'init.mp4',
  segments: [...Array.from({ length: 10 }, (_, i) => segment(100 + i)), segment(110, { complete: false })],
  preloadHint: { uri: '110.4.m4s' },
  serverControl: { canBlockReload: true, partHoldBackSeconds: 1.5, canSkipUntilSeconds: 12 },
  renditionReports: [{ uri: '../v1/index.m3u8', lastMsn: 110, lastPart: 3 }],
};

/** `input` without the optional fields named. */
const omit = (
  input: MediaPlaylistInput,
  ...keys: readonly (keyof MediaPlaylistInput)[]
): MediaPlaylistInput =>
  Object.fromEntries(
    Object.entries(input).filter(([key]) => !keys.includes(key as keyof MediaPlaylistInput)),
  ) as unknown as MediaPlaylistInput;

/** `valid` with segment `index` replaced by `change(segment)`. */
const withSegment = (index: number, change: (s: MediaSegment) => MediaSegment): MediaPlaylistInput => ({
  ...valid,
  segments: valid.segments.map((s, i) => (i === index ? change(s) : s)),
});

const withPart = (index: number, part: number, durationSeconds: number, independent = false) =>
  withSegment(index, (s) => ({
    ...s,
    parts: s.parts!.map((p, i) => (i === part ? { ...p, durationSeconds, independent } : p)),
  }));

test('the valid base renders', () => {
  assert.match(renderMediaPlaylist(valid), /^#EXTM3U\n/);
  assert.match(renderMediaPlaylist({ ...valid, skip: { skippedSegments: 5 } }), /SKIPPED-SEGMENTS=5/);
});

describe('renderMediaPlaylist refuses with RangeError', () => {
  const cases: readonly [string, MediaPlaylistInput, RegExp][] = [
    [
      'a fractional target duration',
      { ...valid, targetDurationSeconds: 2.5 },
      /^targetDurationSeconds: 2.5 is not an integer ≥ 1$/,
    ],
    [
      'a zero target duration',
      { ...valid, targetDurationSeconds: 0 },
      /^targetDurationSeconds: 0 is not an integer ≥ 1/,
    ],
    [
      'a segment that rounds above the target duration',
      withSegment(3, (s) => ({ ...s, durationSeconds: 2.5, parts: [] })),
      /^segments\[3\]\.durationSeconds: 2.5 rounds to 3, above the target duration 2/,
    ],
    [
      'a gap in media sequence numbers',
      withSegment(2, (s) => ({ ...s, msn: 103 })),
      /^segments\[2\]\.msn: 103 should be 102/,
    ],
    [
      'a negative media sequence',
      { ...valid, mediaSequence: -1 },
      /^mediaSequence: -1 is not an integer ≥ 0/,
    ],
    ['no segments', { ...valid, segments: [] }, /^segments: a media playlist needs a segment/],
    [
      'an incomplete segment before the last',
      withSegment(4, (s) => ({ ...s, complete: false })),
      /^segments\[4\]\.complete: only the last segment may be incomplete/,
    ],
    [
      'an incomplete segment without parts',
      withSegment(10, (s) => ({ ...s, parts: [] })),
      /^segments\[10\]\.parts: an incomplete segment is written as its parts/,
    ],
    [
      'an ended playlist ending in an incomplete segment',
      { ...omit(valid, 'preloadHint'), ended: true },
      /^segments\[10\]\.complete: an ended playlist cannot end with an incomplete segment/,
    ],
    [
      'a part longer than the part target',
      withPart(9, 3, 0.6),
      /^segments\[9\]\.parts\[3\]\.durationSeconds: 0.6 is above the part target 0.5/,
    ],
    [
      'a short part that is neither independent nor last',
      withPart(9, 1, 0.4),
      /^segments\[9\]\.parts\[1\]\.durationSeconds: 0.4 is under 85% of the part target 0.5/,
    ],
    [
      'parts that do not add up to their segment',
      withSegment(9, (s) => ({ ...s, durationSeconds: 1.9 })),
      /^segments\[9\]\.parts: add up to 2 s, not the segment's 1.9 s/,
    ],
    [
      'parts without a part target',
      omit(valid, 'partTargetSeconds', 'preloadHint'),
      /^segments\[0\]\.parts: parts need partTargetSeconds/,
    ],
    [
      'a part target without PART-HOLD-BACK',
      { ...valid, serverControl: { canBlockReload: true } },
      /^serverControl\.partHoldBackSeconds: PART-HOLD-BACK is REQUIRED/,
    ],
    [
      'PART-HOLD-BACK under three part targets',
      { ...valid, serverControl: { ...valid.serverControl!, partHoldBackSeconds: 1.4 } },
      /^serverControl\.partHoldBackSeconds: 1.4 is under 3 × PART-TARGET/,
    ],
    [
      'CAN-SKIP-UNTIL under six target durations',
      { ...valid, serverControl: { ...valid.serverControl!, canSkipUntilSeconds: 11.9 } },
      /^serverControl\.canSkipUntilSeconds: the Skip Boundary MUST be at least six times/,
    ],
    [
      'HOLD-BACK under three target durations',
      { ...valid, serverControl: { ...valid.serverControl!, holdBackSeconds: 5 } },
      /^serverControl\.holdBackSeconds: HOLD-BACK MUST be at least three times/,
    ],
    [
      'a delta update without CAN-SKIP-UNTIL',
      {
        ...valid,
        serverControl: { canBlockReload: true, partHoldBackSeconds: 1.5 },
        skip: { skippedSegments: 1 },
      },
      /^skip: a delta update needs serverControl\.canSkipUntilSeconds/,
    ],
    [
      'a delta update skipping into the Skip Boundary',
      { ...valid, skip: { skippedSegments: 6 } },
      /^skip\.skippedSegments: leaves 10 s listed, less than CAN-SKIP-UNTIL 12 s/,
    ],
    [
      'a delta update skipping nothing',
      { ...valid, skip: { skippedSegments: 0 } },
      /^skip\.skippedSegments: 0 is not an integer ≥ 1/,
    ],
    [
      'a preload hint in an ended playlist',
      { ...valid, segments: valid.segments.slice(0, 10), ended: true },
      /^preloadHint: an ended playlist has no next part to hint/,
    ],
    [
      'a URI with a double quote',
      withSegment(0, (s) => ({ ...s, uri: 'a"b.m4s' })),
      /^segments\[0\]\.uri: "a\\"b\.m4s" cannot be written in a playlist/,
    ],
    [
      'a URI with a line break',
      { ...valid, mapUri: 'init.mp4\n#EXT-X-ENDLIST' },
      /^mapUri: .* cannot be written in a playlist/,
    ],
    [
      'a URI line starting with #',
      withSegment(1, (s) => ({ ...s, uri: '#101.m4s' })),
      /^segments\[1\]\.uri: .* cannot be written/,
    ],
    [
      'an absolute rendition report URI',
      { ...valid, renditionReports: [{ uri: 'https://cdn.example/v1.m3u8', lastMsn: 1, lastPart: 0 }] },
      /^renditionReports\[0\]\.uri: MUST be relative/,
    ],
    [
      'a rendition report without LAST-PART in a playlist with parts',
      { ...valid, renditionReports: [{ uri: 'v1.m3u8', lastMsn: 1 }] },
      /^renditionReports\[0\]\.lastPart: LAST-PART is REQUIRED/,
    ],
    [
      'an invalid program date time',
      withSegment(0, (s) => ({ ...s, programDateTime: new Date(Number.NaN) })),
      /^segments\[0\]\.programDateTime: is an invalid Date/,
    ],
    [
      'a first segment without a map when a later one has one',
      {
        ...omit(valid, 'mapUri'),
        segments: valid.segments.map((s, i) => (i === 5 ? { ...s, mapUri: 'init-1.mp4' } : s)),
      },
      /^segments\[0\]\.mapUri: later segments have an EXT-X-MAP/,
    ],
    [
      'a part window of zero segments',
      { ...valid, partWindowSegments: 0 },
      /^partWindowSegments: 0 is not an integer ≥ 1/,
    ],
  ];
  for (const [name, input, message] of cases) {
    test(name, () => {
      assert.throws(
        () => renderMediaPlaylist(input),
        (error: unknown) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe('renderMultivariant refuses with RangeError', () => {
  const variant = { uri: 'v0.m3u8', bandwidth: 1000, codecs: ['avc1.42C01E'] };
  const cases: readonly [string, MultivariantPlaylistInput, RegExp][] = [
    ['no variants', { variants: [] }, /^variants: a multivariant playlist needs a variant stream/],
    [
      'a zero bandwidth',
      { variants: [{ ...variant, bandwidth: 0 }] },
      /^variants\[0\]\.bandwidth: 0 is not an integer ≥ 1/,
    ],
    [
      'an average above the peak',
      { variants: [{ ...variant, averageBandwidth: 1001 }] },
      /^variants\[0\]\.averageBandwidth: 1001 is above the peak BANDWIDTH 1000/,
    ],
    [
      'no codecs',
      { variants: [{ ...variant, codecs: [] }] },
      /^variants\[0\]\.codecs: CODECS SHOULD list every format/,
    ],
    [
      'a codec with a quote',
      { variants: [{ ...variant, codecs: 'avc1.42C01E,"x' }] },
      /^variants\[0\]\.codecs\[1\]: .* is not an RFC 6381 codec string/,
    ],
    [
      'a fractional width',
      { variants: [{ ...variant, resolution: { width: 640.5, height: 360 } }] },
      /^variants\[0\]\.resolution\.width/,
    ],
    [
      'a zero frame rate',
      { variants: [{ ...variant, frameRate: 0 }] },
      /^variants\[0\]\.frameRate: 0 is not a positive number/,
    ],
    ['a version of 0', { version: 0, variants: [variant] }, /^version: 0 is not an integer ≥ 1/],
  ];
  for (const [name, input, message] of cases) {
    test(name, () => {
      assert.throws(
        () => renderMultivariant(input),
        (error: unknown) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
