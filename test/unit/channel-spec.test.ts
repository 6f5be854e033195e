/**
 * parseCreateChannel and roundAudioBitrate as pure functions: table-driven accepted and refused inputs,
 * the caller's object left unchanged, and a property test of the audio rounding.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  audioBitratesBps,
  parseCreateChannel,
  roundAudioBitrate,
  type ChannelSpec,
} from '../../src/channel/channel-spec.ts';
import { NagareError } from '../../src/errors.ts';

const variant = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000 },
  audio: { bps: 64_000 },
  ...patch,
});
const withVideo = (patch: Record<string, unknown>): Record<string, unknown> =>
  variant({ video: { width: 640, height: 480, fps: 30, bps: 1_000_000, ...patch } });
const normal = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
} as const;

describe('roundAudioBitrate', () => {
  const cases: [number, number | undefined][] = [
    [0, undefined],
    [31_999, undefined],
    [32_000, 32_000],
    [39_999, 32_000],
    [40_000, 40_000],
    [70_000, 64_000],
    [128_000, 128_000],
    [319_999, 256_000],
    [320_000, 320_000],
    [320_001, 320_000],
    [10_000_000, 320_000],
  ];
  for (const [bps, rounded] of cases) {
    test(`${bps} rounds down to ${String(rounded)}`, () => {
      assert.equal(roundAudioBitrate(bps), rounded);
    });
  }

  test('any rate of at least 32000 rounds to the largest allowed rate not above it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 32_000, max: 1_000_000 }), (bps) => {
        const rounded = roundAudioBitrate(bps);
        assert.ok(rounded !== undefined && (audioBitratesBps as readonly number[]).includes(rounded));
        assert.ok(rounded <= bps);
        assert.ok(audioBitratesBps.every((allowed) => allowed <= rounded || allowed > bps));
      }),
      { seed: 20261124, examples: cases.filter(([bps]) => bps >= 32_000).map(([bps]) => [bps]) },
    );
  });
});

describe('parseCreateChannel accepts', () => {
  const cases: [string, Record<string, unknown>, ChannelSpec][] = [
    ['one variant, filling codec and durationSeconds', { hls: [variant()] }, { hls: [normal] }],
    [
      'audio rounded down to the ImageFlux set',
      { hls: [variant({ audio: { bps: 70_000 } }), variant({ audio: { bps: 320_001 } })] },
      { hls: [normal, { ...normal, audio: { bps: 320_000 } }] },
    ],
    [
      'the edges of every range',
      { hls: [withVideo({ width: 36, height: 4096, fps: 1, bps: 50_000, codec: 'h264_baseline' })] },
      {
        hls: [{ ...normal, video: { width: 36, height: 4096, fps: 1, bps: 50_000, codec: 'h264_baseline' } }],
      },
    ],
    [
      'the other edges',
      { hls: [{ ...withVideo({ width: 4096, height: 36, fps: 60, bps: 20_000_000 }), durationSeconds: 10 }] },
      {
        hls: [
          {
            ...normal,
            video: { width: 4096, height: 36, fps: 60, bps: 20_000_000, codec: 'h264_high' },
            durationSeconds: 10,
          },
        ],
      },
    ],
    [
      'startTimeOffset',
      { hls: [variant({ startTimeOffset: -6.5 })] },
      { hls: [{ ...normal, startTimeOffset: -6.5 }] },
    ],
    [
      '8 variants',
      { hls: Array.from({ length: 8 }, () => variant()) },
      { hls: Array.from({ length: 8 }, () => normal) },
    ],
    [
      'webhook URLs, normalised by the URL parser',
      {
        hls: [variant()],
        auth_webhook_url: 'https://Auth.Example.com/hook',
        event_webhook_url: 'http://e.example.com',
      },
      {
        hls: [normal],
        authWebhookUrl: 'https://auth.example.com/hook',
        eventWebhookUrl: 'http://e.example.com/',
      },
    ],
    [
      'empty and null webhook URLs as none',
      { hls: [variant()], auth_webhook_url: '', event_webhook_url: null },
      { hls: [normal] },
    ],
  ];
  for (const [what, input, expected] of cases) {
    test(`${what}, leaving the input unchanged`, () => {
      const before = structuredClone(input);
      const spec = parseCreateChannel(input);
      // A CreateChannel channel is a composite, in the default grid layout when it names none.
      assert.deepEqual(spec, { ...expected, composite: true, layout: { type: 'grid' } });
      assert.deepEqual(input, before, 'the input is not mutated');
      const inputVideo = (input['hls'] as Record<string, unknown>[])[0]!['video'];
      assert.notEqual(spec.hls[0]!.video, inputVideo, 'the spec shares no object with the input');
    });
  }
});

describe('parseCreateChannel refuses', () => {
  const cases: [string, unknown, string][] = [
    [
      'an odd width',
      { hls: [withVideo({ width: 641 })] },
      'hls[0].video.width must be an even integer from 36 to 4096',
    ],
    [
      'a string height',
      { hls: [withVideo({ height: '480' })] },
      'hls[0].video.height must be an even integer from 36 to 4096',
    ],
    ['fps 29.97', { hls: [withVideo({ fps: 29.97 })] }, 'hls[0].video.fps must be an integer from 1 to 60'],
    [
      'video bps 49999',
      { hls: [withVideo({ bps: 49_999 })] },
      'hls[0].video.bps must be an integer from 50000 to 20000000',
    ],
    [
      'codec h265',
      { hls: [withVideo({ codec: 'h265' })] },
      'hls[0].video.codec must be one of h264_high, h264_main, h264_baseline',
    ],
    [
      'a missing width',
      { hls: [variant({ video: { height: 480, fps: 30, bps: 1_000_000 } })] },
      'hls[0].video.width is required',
    ],
    ['a missing video', { hls: [{ audio: { bps: 64_000 } }] }, 'hls[0].video is required'],
    [
      'a video that is not an object',
      { hls: [variant({ video: [] })] },
      'hls[0].video must be a JSON object',
    ],
    [
      'audio bps 31999',
      { hls: [variant({ audio: { bps: 31_999 } })] },
      'hls[0].audio.bps must be an integer of at least 32000',
    ],
    [
      'a negative audio bps',
      { hls: [variant({ audio: { bps: -1 } })] },
      'hls[0].audio.bps must be an integer from 0 to 9007199254740991',
    ],
    ['a missing audio bps', { hls: [variant({ audio: {} })] }, 'hls[0].audio.bps is required'],
    [
      'durationSeconds 11',
      { hls: [variant({ durationSeconds: 11 })] },
      'hls[0].durationSeconds must be an integer from 1 to 10',
    ],
    [
      'durationSeconds differing in the second variant',
      { hls: [variant({ durationSeconds: 4 }), variant()] },
      'hls[1].durationSeconds must equal hls[0].durationSeconds (variants share segment boundaries)',
    ],
    [
      'a bad second variant',
      { hls: [variant(), withVideo({ fps: 0 })] },
      'hls[1].video.fps must be an integer from 1 to 60',
    ],
    [
      'startTimeOffset beyond a day',
      { hls: [variant({ startTimeOffset: 86_401 })] },
      'hls[0].startTimeOffset must be a number from -86400 to 86400',
    ],
    ['archive', { hls: [variant({ archive: true })] }, 'hls[0].archive is not supported'],
    [
      'encrypt_key_uri',
      { hls: [variant()], encrypt_key_uri: 'https://k.example.com' },
      'encrypt_key_uri is not supported',
    ],
    ['hls null', { hls: null }, 'hls must be an array of 1 to 8 variants'],
    [
      '9 variants',
      { hls: Array.from({ length: 9 }, () => variant()) },
      'hls must be an array of 1 to 8 variants',
    ],
    ['a missing hls', {}, 'hls is required'],
    [
      'an unknown field in a variant',
      { hls: [variant({ bitrate: 1 })] },
      'hls[0].bitrate is not a known field (known: video, audio, durationSeconds, startTimeOffset, archive)',
    ],
    [
      'an unknown field in audio',
      { hls: [variant({ audio: { bps: 64_000, codec: 'opus' } })] },
      'hls[0].audio.codec is not a known field (known: bps)',
    ],
    [
      'a webhook URL with a javascript: scheme',
      { hls: [variant()], auth_webhook_url: 'javascript:alert(1)' },
      'auth_webhook_url must be an http or https URL',
    ],
    [
      'a webhook URL that is a number',
      { hls: [variant()], event_webhook_url: 42 },
      'event_webhook_url must be an http or https URL',
    ],
    ['a string body', '{"hls":[]}', 'the request body must be a JSON object'],
    ['an array body', [variant()], 'the request body must be a JSON object'],
    ['a null body', null, 'the request body must be a JSON object'],
  ];
  for (const [what, input, message] of cases) {
    test(`${what}: ${message}`, () => {
      const before = structuredClone(input);
      assert.throws(
        () => parseCreateChannel(input),
        (err: unknown) => {
          assert.ok(err instanceof NagareError);
          assert.equal(err.code, 'InvalidParameter');
          assert.equal(err.message, message);
          return true;
        },
      );
      assert.deepEqual(input, before, 'the input is not mutated');
    });
  }
});
