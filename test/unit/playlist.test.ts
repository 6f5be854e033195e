/**
 * HLS playlist writers (RFC 8216bis-16, LL-HLS): a golden live playlist, a table per tag, a seeded property test
 * over random valid LL-HLS playlists — every one read back by hls-parser in strict mode and compared field by field
 * with the input — and the multivariant playlist. Invalid inputs: playlist-invalid.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { partTargetFor } from '../../src/media/hls-output.ts';
import {
  formatSeconds,
  partHoldBackFor,
  renderMediaPlaylist,
  renderMultivariant,
  type MediaPlaylistInput,
  type MediaSegment,
  type MultivariantPlaylistInput,
} from '../../src/hls/format/playlist.ts';
import { arbitraryLivePlaylist } from '../helpers/playlist-arbitrary.ts';
import { expectMediaMatches, expectMultivariantMatches } from '../helpers/playlist-check.ts';

const at = (seconds: number): Date => new Date(Date.UTC(2026, 2, 1, 12, 0, 0) + seconds * 1000);

/** A complete segment `msn` of `parts` parts of `partSeconds`, the first one independent. */
const segment = (
  msn: number,
  parts = 4,
  partSeconds = 0.5,
  extra: Partial<MediaSegment> = {},
): MediaSegment => ({
  msn,
  uri: `${msn}.m4s`,
  durationSeconds: parts * partSeconds,
  complete: true,
  parts: Array.from({ length: parts }, (_, i) => ({
    uri: `${msn}.${i}.m4s`,
    durationSeconds: partSeconds,
    independent: i === 0,
  })),
  ...extra,
});

const withoutParts = ({ parts: _, ...rest }: MediaSegment): MediaSegment => rest;

const incomplete = (msn: number, parts: number, partSeconds = 0.5): MediaSegment => ({
  ...segment(msn, parts, partSeconds),
  complete: false,
});

/** A typical LL-HLS live playlist: 2 s segments of 0.5 s parts, the newest one still being written. */
const liveInput: MediaPlaylistInput = {
  targetDurationSeconds: 2,
  partTargetSeconds: 0.5,
  mediaSequence: 266,
  mapUri: 'init-0.mp4',
  segments: [
    segment(266, 4, 0.5, { programDateTime: at(0) }),
    segment(267),
    segment(268),
    segment(269),
    segment(270),
    incomplete(271, 2),
  ],
  preloadHint: { uri: '271.2.m4s' },
  renditionReports: [{ uri: '../v1/index.m3u8', lastMsn: 271, lastPart: 1 }],
  serverControl: { canBlockReload: true, partHoldBackSeconds: 1.5, canSkipUntilSeconds: 12 },
};

const liveGolden = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="init-0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:00.000Z
#EXTINF:2.0,
266.m4s
#EXTINF:2.0,
267.m4s
#EXTINF:2.0,
268.m4s
#EXT-X-PART:DURATION=0.5,URI="269.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="269.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="269.2.m4s"
#EXT-X-PART:DURATION=0.5,URI="269.3.m4s"
#EXTINF:2.0,
269.m4s
#EXT-X-PART:DURATION=0.5,URI="270.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="270.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="270.2.m4s"
#EXT-X-PART:DURATION=0.5,URI="270.3.m4s"
#EXTINF:2.0,
270.m4s
#EXT-X-PART:DURATION=0.5,URI="271.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="271.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="271.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../v1/index.m3u8",LAST-MSN=271,LAST-PART=1
`;

describe('renderMediaPlaylist', () => {
  test('a typical LL-HLS live playlist, to the byte; hls-parser reads it back', () => {
    const text = renderMediaPlaylist(liveInput);
    assert.equal(text, liveGolden);
    expectMediaMatches(text, liveInput, (index) => index >= 3);
  });

  const llBase = {
    partTargetSeconds: 0.5,
    serverControl: { canBlockReload: true, partHoldBackSeconds: 1.5 },
  };
  const cases: readonly {
    name: string;
    input: MediaPlaylistInput;
    lines: readonly string[];
    absent?: readonly string[];
    /** Index of the first segment written with parts; default: none. */
    partsFrom?: number;
    /** hls-parser approximates the §6.2.2 window as "the last three segments"; false where that differs. */
    hlsParser?: false;
  }[] = [
    {
      name: 'without EXT-X-MAP or parts: version 3 (decimal EXTINF), no LL-HLS tags',
      input: {
        targetDurationSeconds: 6,
        mediaSequence: 0,
        segments: [{ msn: 0, uri: 'a.ts', durationSeconds: 5.005, complete: true }],
      },
      lines: [
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:6',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXTINF:5.005,\na.ts',
      ],
      absent: [
        '#EXT-X-MAP',
        '#EXT-X-SERVER-CONTROL',
        '#EXT-X-PART',
        '#EXT-X-DISCONTINUITY-SEQUENCE',
        '#EXT-X-ENDLIST',
      ],
    },
    {
      name: 'EXT-X-MAP needs version 6; a segment of 2.4 s rounds to the target duration 2',
      input: {
        targetDurationSeconds: 2,
        mediaSequence: 7,
        mapUri: 'init.mp4',
        segments: [withoutParts(segment(7, 3, 0.8))],
      },
      lines: ['#EXT-X-VERSION:6', '#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.4,\n7.m4s'],
    },
    {
      name: 'ended: EXT-X-ENDLIST, parts of the last segments still listed, no preload hint needed',
      input: {
        ...llBase,
        targetDurationSeconds: 2,
        mediaSequence: 0,
        segments: [segment(0), segment(1)],
        ended: true,
      },
      lines: ['#EXT-X-PART:DURATION=0.5,URI="1.3.m4s"\n#EXTINF:2.0,\n1.m4s\n#EXT-X-ENDLIST\n'],
      partsFrom: 0,
    },
    {
      name: 'a new encoder generation: discontinuity, its own EXT-X-MAP before its parts, and the sequence',
      input: {
        ...llBase,
        targetDurationSeconds: 2,
        mediaSequence: 10,
        discontinuitySequence: 3,
        mapUri: 'init-0.mp4',
        segments: [segment(10), incomplete(11, 1, 0.5)].map((s, i) =>
          i === 1 ? { ...s, discontinuity: true, mapUri: 'init-1.mp4' } : s,
        ),
        preloadHint: { uri: '11.1.m4s' },
      },
      lines: [
        '#EXT-X-DISCONTINUITY-SEQUENCE:3',
        '#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1.mp4"\n#EXT-X-PART:DURATION=0.5,URI="11.0.m4s",INDEPENDENT=YES',
      ],
      partsFrom: 0,
    },
    {
      name: 'EXT-X-PROGRAM-DATE-TIME in ISO 8601 with milliseconds, before the parts',
      input: {
        ...llBase,
        targetDurationSeconds: 2,
        mediaSequence: 0,
        segments: [segment(0, 4, 0.5, { programDateTime: at(1.234) })],
        ended: true,
      },
      lines: ['#EXT-X-PROGRAM-DATE-TIME:2026-03-01T12:00:01.234Z\n#EXT-X-PART:'],
      partsFrom: 0,
    },
    {
      name: 'EXT-X-START with PRECISE=NO, and HOLD-BACK',
      input: {
        targetDurationSeconds: 2,
        mediaSequence: 0,
        segments: [withoutParts(segment(0, 1, 2))],
        startTimeOffset: -6,
        serverControl: { canBlockReload: true, holdBackSeconds: 6 },
      },
      lines: [
        '#EXT-X-START:TIME-OFFSET=-6.0,PRECISE=NO',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=6.0',
      ],
    },
    {
      name: 'delta update: EXT-X-SKIP replaces the oldest segments, the media sequence stays that of the first',
      input: {
        ...liveInput,
        segments: [
          ...liveInput.segments.slice(0, 5),
          segment(271),
          segment(272),
          segment(273),
          incomplete(274, 2),
        ],
        preloadHint: { uri: '274.2.m4s' },
        skip: { skippedSegments: 2 },
      },
      lines: [
        '#EXT-X-VERSION:9',
        '#EXT-X-MEDIA-SEQUENCE:266\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-MAP:URI="init-0.mp4"\n#EXTINF:2.0,\n268.m4s',
      ],
      absent: ['266.m4s', '267.m4s', '#EXT-X-PROGRAM-DATE-TIME'],
      partsFrom: 6,
    },
    {
      name: 'the default part window is three target durations, however many segments that is',
      input: {
        ...llBase,
        targetDurationSeconds: 4,
        mediaSequence: 0,
        segments: [0, 1, 2, 3, 4, 5, 6, 7].map((n) => segment(n)),
        ended: true,
      },
      lines: ['#EXTINF:2.0,\n1.m4s\n#EXT-X-PART:DURATION=0.5,URI="2.0.m4s",INDEPENDENT=YES'],
      absent: ['URI="1.0.m4s"'],
      partsFrom: 2,
      hlsParser: false,
    },
    {
      name: 'partWindowSegments: 1 keeps parts only on the newest segment',
      input: { ...liveInput, partWindowSegments: 1 },
      lines: ['#EXTINF:2.0,\n270.m4s\n#EXT-X-PART:DURATION=0.5,URI="271.0.m4s"'],
      absent: ['URI="270.0.m4s"'],
      partsFrom: 5,
    },
    {
      name: 'a stream that just started: one part and the hint for the next',
      input: {
        ...liveInput,
        mediaSequence: 0,
        segments: [incomplete(0, 1)],
        preloadHint: { uri: '0.1.m4s' },
        renditionReports: [],
      },
      lines: [
        '#EXT-X-MAP:URI="init-0.mp4"\n#EXT-X-PART:DURATION=0.5,URI="0.0.m4s",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="0.1.m4s"\n',
      ],
      absent: ['#EXTINF'],
      partsFrom: 0,
    },
    {
      name: 'a preload hint for the first part of the next segment, after a complete one',
      // Two segments keep parts: hls-parser counts the hint as a third segment with parts.
      input: {
        ...liveInput,
        segments: liveInput.segments.slice(0, 5),
        preloadHint: { uri: '271.0.m4s' },
        partWindowSegments: 2,
      },
      lines: ['#EXTINF:2.0,\n270.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="271.0.m4s"'],
      partsFrom: 3,
    },
    {
      name: 'a rendition report without LAST-PART in a playlist without parts',
      input: {
        targetDurationSeconds: 2,
        mediaSequence: 4,
        segments: [{ msn: 4, uri: '4.ts', durationSeconds: 2, complete: true }],
        renditionReports: [{ uri: 'v1.m3u8', lastMsn: 4 }],
      },
      lines: ['#EXT-X-RENDITION-REPORT:URI="v1.m3u8",LAST-MSN=4\n'],
    },
  ];
  for (const { name, input, lines, absent = [], partsFrom, hlsParser } of cases) {
    test(name, () => {
      const text = renderMediaPlaylist(input);
      for (const line of lines) assert.ok(text.includes(line), `missing ${JSON.stringify(line)} in\n${text}`);
      for (const line of absent)
        assert.ok(!text.includes(line), `unexpected ${JSON.stringify(line)} in\n${text}`);
      if (hlsParser !== false) {
        expectMediaMatches(text, input, (index) => partsFrom !== undefined && index >= partsFrom);
      }
    });
  }
});

test('random valid LL-HLS playlists read back the same through hls-parser (property, seeded)', () => {
  fc.assert(
    fc.property(arbitraryLivePlaylist, ({ input, partsFrom }) => {
      expectMediaMatches(renderMediaPlaylist(input), input, (index) => index >= partsFrom);
    }),
    { seed: 8216, numRuns: 400 },
  );
});

describe('renderMultivariant', () => {
  const input: MultivariantPlaylistInput = {
    independentSegments: true,
    variants: [
      {
        uri: 'v0/index.m3u8',
        bandwidth: 1_210_000,
        averageBandwidth: 1_100_000,
        codecs: ['avc1.64001F', 'mp4a.40.2'],
        resolution: { width: 640, height: 360 },
        frameRate: 30,
      },
      {
        uri: 'v1/index.m3u8',
        bandwidth: 3_300_000,
        codecs: 'avc1.64001F,mp4a.40.2',
        resolution: { width: 1280, height: 720 },
        frameRate: 29.97,
      },
    ],
  };

  test('writes the variants in the order given, to the byte; hls-parser reads them back', () => {
    const text = renderMultivariant(input);
    assert.equal(
      text,
      `#EXTM3U
#EXT-X-VERSION:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=1210000,AVERAGE-BANDWIDTH=1100000,CODECS="avc1.64001F,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000
v0/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3300000,CODECS="avc1.64001F,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=29.970
v1/index.m3u8
`,
    );
    expectMultivariantMatches(text, input);
  });

  test('states a higher version when asked, and leaves out what is not given', () => {
    const text = renderMultivariant({
      version: 9,
      variants: [{ uri: 'a.m3u8', bandwidth: 64000, codecs: ['mp4a.40.2'] }],
    });
    assert.equal(
      text,
      '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"\na.m3u8\n',
    );
    expectMultivariantMatches(text, {
      variants: [{ uri: 'a.m3u8', bandwidth: 64000, codecs: ['mp4a.40.2'] }],
    });
  });
});

describe('formatSeconds', () => {
  const cases: readonly [number, string][] = [
    [2, '2.0'],
    [10, '10.0'],
    [1.5, '1.5'],
    [1 / 3, '0.33333'],
    [4.00008, '4.00008'],
    [0.123456, '0.12346'],
    [-6, '-6.0'],
    [1e-7, '0.0'],
    [-1e-7, '0.0'],
  ];
  for (const [value, text] of cases) {
    test(`${value} → ${text}`, () => {
      assert.equal(formatSeconds(value), text);
    });
  }
});

describe('partHoldBackFor', () => {
  test('a part target of 8/30 s (--part-duration 0.25 at 30 fps) gets 0.80001, which the writer accepts', () => {
    // Regression: 3 × (8/30) is 0.8, under 3 × the printed 0.26667; every playlist of such a channel failed to render.
    const partTarget = partTargetFor(0.25, 30);
    assert.equal(formatSeconds(partTarget), '0.26667');
    assert.equal(partHoldBackFor(partTarget), 0.80001);
    assert.doesNotThrow(() => renderMediaPlaylist(oneSegmentPlaylist(partTarget)));
  });

  test('every --part-duration from 0.2 to 2 s at every frame rate from 1 to 60 renders', () => {
    for (let centis = 20; centis <= 200; centis++) {
      for (let fps = 1; fps <= 60; fps++) {
        const partTarget = partTargetFor(centis / 100, fps);
        const text = renderMediaPlaylist(oneSegmentPlaylist(partTarget));
        const holdBack = Number(/PART-HOLD-BACK=([\d.]+)/.exec(text)?.[1]);
        const printedTarget = Number(formatSeconds(partTarget));
        assert.ok(holdBack >= 3 * printedTarget - 1e-9, `${centis / 100} s at ${fps} fps: ${holdBack}`);
        assert.ok(
          holdBack < 3 * printedTarget + 2e-5,
          `${centis / 100} s at ${fps} fps: ${holdBack} is more than needed`,
        );
      }
    }
  });
});

/** A live playlist of one segment of two parts of `partTarget`, with the PART-HOLD-BACK partHoldBackFor gives. */
function oneSegmentPlaylist(partTarget: number): MediaPlaylistInput {
  return {
    targetDurationSeconds: Math.max(1, Math.ceil(2 * partTarget)),
    partTargetSeconds: partTarget,
    mediaSequence: 0,
    serverControl: { canBlockReload: true, partHoldBackSeconds: partHoldBackFor(partTarget) },
    segments: [
      {
        msn: 0,
        uri: '0.m4s',
        durationSeconds: 2 * partTarget,
        complete: true,
        parts: [0, 1].map((i) => ({ uri: `0.${i}.m4s`, durationSeconds: partTarget, independent: i === 0 })),
      },
    ],
  };
}
