/**
 * parseClientMessage on messages shaped like those sora-js-sdk 2026.1.0 sends (shared/SORA-PROTOCOL.md §3):
 * accepted ones give a typed message, rejected ones a reason that names the field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  parseClientMessage,
  type ClientMessage,
  type ConnectMessage,
  type ParseResult,
} from '../../src/signaling/signaling-message.ts';

const userAgent =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36';
const capabilitySdp = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

/** The connect seen in the probe (SORA-PROTOCOL.md §3.1), with the fields a test changes merged in. */
function connect(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    audio: true,
    channel_id: 'ch-1',
    environment: userAgent,
    role: 'sendrecv',
    sdp: capabilitySdp,
    sora_client: 'Sora JavaScript SDK 2026.1.0',
    type: 'connect',
    video: true,
    metadata: { user: 'x' },
    ...overrides,
  });
}

const defaults: ConnectMessage = {
  type: 'connect',
  role: 'sendrecv',
  channelId: 'ch-1',
  metadata: { user: 'x' },
  audio: true,
  video: true,
  soraClient: 'Sora JavaScript SDK 2026.1.0',
  environment: userAgent,
  signalingNotify: true,
  simulcast: false,
  spotlight: false,
  dataChannelSignaling: false,
  redirect: false,
};

function accepted(text: string): ClientMessage {
  const result = parseClientMessage(text);
  assert.ok(result.ok, `expected acceptance, got: ${result.ok ? '' : result.reason}`);
  return result.message;
}

function rejected(text: string): string {
  const result = parseClientMessage(text);
  assert.equal(result.ok, false, `expected a rejection of ${text.slice(0, 200)}`);
  return result.reason;
}

describe('parseClientMessage accepts', () => {
  test('the real sora-js-sdk 2026.1.0 connect, with its metadata, user agent and SDK name', () => {
    assert.deepEqual(accepted(connect()), defaults);
  });

  test('connect with video and audio objects keeps codec types and bit rates in kbps', () => {
    const message = accepted(
      connect({
        video: { codec_type: 'VP9', bit_rate: 1500, vp9_params: { profile_id: 0 } },
        audio: {
          codec_type: 'OPUS',
          bit_rate: 96,
          opus_params: {
            channels: 2,
            maxplaybackrate: 48000,
            stereo: true,
            useinbandfec: true,
            usedtx: false,
          },
        },
      }),
    );
    assert.deepEqual(message, {
      ...defaults,
      videoCodecType: 'VP9',
      videoBitRateKbps: 1500,
      audioCodecType: 'OPUS',
      audioBitRateKbps: 96,
    });
  });

  test('connect with video:false and audio:false turns media off', () => {
    assert.deepEqual(accepted(connect({ video: false, audio: false })), {
      ...defaults,
      video: false,
      audio: false,
    });
  });

  test('connect without metadata, or with the SDK default null, keeps it as sent', () => {
    assert.equal((accepted(connect({ metadata: undefined })) as ConnectMessage).metadata, undefined);
    assert.equal((accepted(connect({ metadata: null })) as ConnectMessage).metadata, null);
  });

  test('connect from messaging(): sendonly, no media, data_channel_signaling', () => {
    const message = accepted(
      connect({ role: 'sendonly', audio: false, video: false, data_channel_signaling: true }),
    );
    assert.deepEqual(message, {
      ...defaults,
      role: 'sendonly',
      audio: false,
      video: false,
      dataChannelSignaling: true,
    });
  });

  test('connect with an empty client_id keeps it as sent (the session picks the default)', () => {
    const message = accepted(connect({ client_id: '', bundle_id: 'bundle-1' })) as ConnectMessage;
    assert.equal(message.clientId, '');
    assert.equal(message.bundleId, 'bundle-1');
  });

  test('connect ignores fields it does not know: multistream, data_channels, spotlight_number', () => {
    const extra = { multistream: true, data_channels: [], spotlight_number: 3, forwarding_filters: [{}] };
    assert.deepEqual(accepted(connect(extra)), defaults);
  });

  test('connect with a 255-character channel_id and the booleans set', () => {
    const channelId = 'c'.repeat(255);
    const message = accepted(
      connect({
        channel_id: channelId,
        simulcast: true,
        spotlight: true,
        redirect: true,
        signaling_notify: false,
      }),
    );
    assert.deepEqual(message, {
      ...defaults,
      channelId,
      simulcast: true,
      spotlight: true,
      redirect: true,
      signalingNotify: false,
    });
  });

  test('a full candidate from Chrome', () => {
    const candidate =
      'candidate:2988926130 1 udp 2122194687 192.0.2.2 42630 typ host generation 0 ufrag PHSK network-id 1';
    const text = JSON.stringify({
      candidate,
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: 'PHSK',
      type: 'candidate',
    });
    assert.deepEqual(accepted(text), {
      type: 'candidate',
      candidate,
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: 'PHSK',
    });
  });

  test('a CPP-style candidate with only type and candidate', () => {
    const candidate = 'candidate:1 1 udp 2122260223 192.0.2.3 50000 typ host';
    assert.deepEqual(accepted(JSON.stringify({ type: 'candidate', candidate })), {
      type: 'candidate',
      candidate,
    });
  });

  test("Firefox's empty candidate string, and null sdpMid/sdpMLineIndex, are accepted", () => {
    const text = JSON.stringify({ type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: null });
    assert.deepEqual(accepted(text), { type: 'candidate', candidate: '' });
  });

  for (const type of ['answer', 're-answer', 'update'] as const) {
    test(`${type} with an sdp`, () => {
      assert.deepEqual(accepted(JSON.stringify({ type, sdp: capabilitySdp })), { type, sdp: capabilitySdp });
    });
  }

  test('pong, with or without stats', () => {
    assert.deepEqual(accepted('{"type":"pong"}'), { type: 'pong' });
    assert.deepEqual(accepted('{"type":"pong","stats":[{"id":"T01","type":"transport"}]}'), { type: 'pong' });
  });

  test('disconnect with the SDK reason NO-ERROR, and without a reason', () => {
    assert.deepEqual(accepted('{"type":"disconnect","reason":"NO-ERROR"}'), {
      type: 'disconnect',
      reason: 'NO-ERROR',
    });
    assert.deepEqual(accepted('{"type":"disconnect"}'), { type: 'disconnect' });
  });

  test('an unknown type is returned by name, not rejected', () => {
    assert.deepEqual(accepted('{"type":"stats","reports":[]}'), { type: 'unknown', name: 'stats' });
    assert.deepEqual(accepted('{"type":"constructor"}'), { type: 'unknown', name: 'constructor' });
  });
});

describe('parseClientMessage rejects, naming the field', () => {
  const candidate = (extra: Record<string, unknown>): string =>
    JSON.stringify({ type: 'candidate', candidate: 'candidate:1 1 udp 1 192.0.2.1 1 typ host', ...extra });
  const cases: [string, string, RegExp][] = [
    ['text that is not JSON', '{"type":"connect"', /^message is not valid JSON$/],
    ['an empty frame', '', /^message is not valid JSON$/],
    ['a JSON array', '[{"type":"pong"}]', /^message must be a JSON object$/],
    ['a JSON string', '"pong"', /^message must be a JSON object$/],
    ['JSON null', 'null', /^message must be a JSON object$/],
    ['no type', '{"sdp":"v=0"}', /^type is required$/],
    ['a number as type', '{"type":5}', /^type must be a non-empty string/],
    ['an empty type', '{"type":""}', /^type must be a non-empty string/],
    ['an invalid role', connect({ role: 'upstream' }), /^role must be one of sendrecv, sendonly, recvonly$/],
    ['a missing role', connect({ role: undefined }), /^role is required$/],
    ['a missing channel_id', connect({ channel_id: undefined }), /^channel_id is required$/],
    ['an empty channel_id', connect({ channel_id: '' }), /^channel_id must be a non-empty string/],
    ['a 256-character channel_id', connect({ channel_id: 'c'.repeat(256) }), /^channel_id .*at most 255/],
    ['a number as channel_id', connect({ channel_id: 1 }), /^channel_id must be/],
    [
      'an unknown video.codec_type',
      connect({ video: { codec_type: 'MPEG2' } }),
      /^video\.codec_type must be/,
    ],
    ['a lowercase video.codec_type', connect({ video: { codec_type: 'vp9' } }), /^video\.codec_type must be/],
    ['an unknown audio.codec_type', connect({ audio: { codec_type: 'AAC' } }), /^audio\.codec_type must be/],
    ['a negative video.bit_rate', connect({ video: { bit_rate: -1 } }), /^video\.bit_rate must be/],
    ['a zero audio.bit_rate', connect({ audio: { bit_rate: 0 } }), /^audio\.bit_rate must be/],
    ['a string video.bit_rate', connect({ video: { bit_rate: '1500' } }), /^video\.bit_rate must be/],
    ['a video.bit_rate above 100000', connect({ video: { bit_rate: 100_001 } }), /^video\.bit_rate must be/],
    ['video as a string', connect({ video: 'yes' }), /^video must be a JSON object$/],
    ['a number as client_id', connect({ client_id: 42 }), /^client_id must be a string/],
    ['a string as simulcast', connect({ simulcast: 'true' }), /^simulcast must be true or false$/],
    ['a number as the connect sdp', connect({ sdp: 0 }), /^sdp must be a string/],
    ['an answer without sdp', '{"type":"answer"}', /^sdp is required$/],
    ['a re-answer with an empty sdp', '{"type":"re-answer","sdp":""}', /^sdp must be a non-empty string/],
    ['a candidate without candidate', '{"type":"candidate"}', /^candidate is required$/],
    ['sdpMLineIndex -1', candidate({ sdpMLineIndex: -1 }), /^sdpMLineIndex must be an integer/],
    ['sdpMLineIndex 1.5', candidate({ sdpMLineIndex: 1.5 }), /^sdpMLineIndex must be an integer/],
    ['sdpMLineIndex as a string', candidate({ sdpMLineIndex: '0' }), /^sdpMLineIndex must be an integer/],
    ['a number as sdpMid', candidate({ sdpMid: 0 }), /^sdpMid must be a string/],
    ['a number as the disconnect reason', '{"type":"disconnect","reason":1}', /^reason must be a string/],
  ];
  for (const [name, text, reason] of cases) {
    test(`${name}: ${reason.source}`, () => {
      assert.match(rejected(text), reason);
    });
  }
});

describe('parseClientMessage on arbitrary input', () => {
  const isResult = (result: ParseResult): void => {
    if (result.ok) assert.equal(typeof result.message.type, 'string');
    else assert.ok(result.reason.length > 0);
  };

  test('any string, JSON or not, gives a result object and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.json()), (text) => {
        isResult(parseClientMessage(text));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('any JSON object with known types and fields of any JSON value never throws', () => {
    // Every field the parser reads, each given any JSON value (or a media-like object).
    const keys = (
      'role channel_id metadata audio video client_id bundle_id sora_client environment sdp signaling_notify ' +
      'signaling_notify_metadata simulcast spotlight data_channel_signaling redirect candidate sdpMid ' +
      'sdpMLineIndex usernameFragment reason'
    ).split(' ');
    const media = fc.record({ codec_type: fc.jsonValue(), bit_rate: fc.jsonValue() }, { requiredKeys: [] });
    const value = fc.oneof(fc.jsonValue(), media);
    const types = fc.constantFrom(
      'connect',
      'answer',
      're-answer',
      'update',
      'candidate',
      'pong',
      'disconnect',
      'x',
    );
    fc.assert(
      fc.property(types, fc.dictionary(fc.constantFrom(...keys), value), (type, fields) => {
        isResult(parseClientMessage(JSON.stringify({ ...fields, type })));
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
