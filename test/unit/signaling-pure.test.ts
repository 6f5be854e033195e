/**
 * The small pure parts of signaling: the SDP answer shape check (RFC 3264 §6), the reading of an auth webhook
 * answer (shared/SORA-PROTOCOL.md §8), and WebSocket close reasons cut to 123 UTF-8 bytes (RFC 6455 §5.5).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { interpretAuthAnswer, type AuthDecision } from '../../src/signaling/auth-webhook.ts';
import { closeReason } from '../../src/signaling/close-codes.ts';
import { answerShapeProblem, mediaSectionCount } from '../../src/sfu/sdp-shape.ts';

const sdpLines = (lines: string[], eol: string): string => lines.join(eol) + eol;
const session = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1'];
const audio = ['m=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=rtpmap:111 opus/48000/2'];
const video = ['m=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=rtpmap:96 VP8/90000'];
const data = ['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:2', 'a=sctp-port:5000'];
const offer = sdpLines([...session, ...audio, ...video], '\r\n');

describe('mediaSectionCount', () => {
  const cases: [string, string, number][] = [
    ['audio and video with CRLF', sdpLines([...session, ...audio, ...video], '\r\n'), 2],
    ['audio and video with LF', sdpLines([...session, ...audio, ...video], '\n'), 2],
    [
      'audio, video and data channel with mixed line ends',
      `${sdpLines([...session, ...audio], '\r\n')}${sdpLines([...video, ...data], '\n')}`,
      3,
    ],
    ['no trailing line end', [...session, ...audio].join('\r\n'), 1],
    ['a session with no media', sdpLines(session, '\r\n'), 0],
    ['an empty string', '', 0],
    [
      'm= inside an attribute, or indented, is not a section',
      sdpLines([...session, 'a=x m=audio', ' m=video 9'], '\n'),
      0,
    ],
  ];
  for (const [name, sdp, count] of cases) {
    test(`${name}: ${count}`, () => {
      assert.equal(mediaSectionCount(sdp), count);
    });
  }
});

describe('answerShapeProblem', () => {
  const cases: [string, string, string | undefined][] = [
    ['an answer with as many sections, CRLF', offer, undefined],
    ['an answer with as many sections, LF', sdpLines([...session, ...audio, ...video], '\n'), undefined],
    [
      'an answer with one section missing',
      sdpLines([...session, ...audio], '\r\n'),
      'it has 1 media sections, the offer has 2',
    ],
    [
      'an answer with no media section',
      sdpLines(session, '\r\n'),
      'it has 0 media sections, the offer has 2',
    ],
    [
      'an answer with an extra section',
      sdpLines([...session, ...audio, ...video, ...data], '\r\n'),
      'it has 3 media sections, the offer has 2',
    ],
    ['an empty answer', '', 'it does not start with v=0'],
    ['an answer starting with a blank line', `\r\n${offer}`, 'it does not start with v=0'],
    ['an answer starting with a BOM', `\uFEFF${offer}`, 'it does not start with v=0'],
    [
      'an answer that is JSON, not SDP',
      JSON.stringify({ type: 'answer', sdp: offer }),
      'it does not start with v=0',
    ],
  ];
  for (const [name, answer, problem] of cases) {
    test(`${name}: ${problem ?? 'no problem'}`, () => {
      assert.equal(answerShapeProblem(offer, answer), problem);
    });
  }
});

describe('interpretAuthAnswer', () => {
  const cases: [string, number, string, AuthDecision][] = [
    ['200 allowed:true', 200, '{"allowed":true}', { allowed: true }],
    [
      '200 allowed:true with metadata, client_id, bundle_id and signaling_notify_metadata',
      200,
      JSON.stringify({
        allowed: true,
        metadata: { plan: 'pro', rooms: [1, 2] },
        client_id: 'alice',
        bundle_id: 'bundle-a',
        signaling_notify_metadata: { name: 'Alice' },
      }),
      {
        allowed: true,
        metadata: { plan: 'pro', rooms: [1, 2] },
        clientId: 'alice',
        bundleId: 'bundle-a',
        notifyMetadata: { name: 'Alice' },
      },
    ],
    [
      '200 allowed:true with metadata null keeps the null',
      200,
      '{"allowed":true,"metadata":null}',
      { allowed: true, metadata: null },
    ],
    [
      '200 allowed:true with empty or non-string ids ignores them',
      200,
      '{"allowed":true,"client_id":"","bundle_id":7}',
      { allowed: true },
    ],
    [
      '200 allowed:true with a reason is still allowed',
      200,
      '{"allowed":true,"reason":"welcome"}',
      { allowed: true },
    ],
    [
      '200 allowed:false with a reason',
      200,
      '{"allowed":false,"reason":"token expired"}',
      { allowed: false, reason: 'token expired' },
    ],
    [
      '200 allowed:false without a reason',
      200,
      '{"allowed":false}',
      { allowed: false, reason: 'not allowed' },
    ],
    [
      '200 allowed:false with an empty reason',
      200,
      '{"allowed":false,"reason":""}',
      { allowed: false, reason: 'not allowed' },
    ],
    [
      '200 allowed:false with a non-string reason',
      200,
      '{"allowed":false,"reason":{"code":1}}',
      { allowed: false, reason: 'not allowed' },
    ],
    ['200 allowed:"yes"', 200, '{"allowed":"yes"}', { allowed: false, reason: 'not allowed' }],
    ['200 allowed:1', 200, '{"allowed":1}', { allowed: false, reason: 'not allowed' }],
    ['200 with no allowed field', 200, '{"metadata":{}}', { allowed: false, reason: 'not allowed' }],
    ['200 with a JSON array', 200, '[true]', { allowed: false, reason: 'not allowed' }],
    ['200 with JSON null', 200, 'null', { allowed: false, reason: 'auth webhook answer is not an object' }],
    [
      '200 with a JSON string',
      200,
      '"allowed"',
      { allowed: false, reason: 'auth webhook answer is not an object' },
    ],
    [
      '200 with text that is not JSON',
      200,
      'OK',
      { allowed: false, reason: 'auth webhook answer is not JSON' },
    ],
    ['200 with an empty body', 200, '', { allowed: false, reason: 'auth webhook answer is not JSON' }],
    [
      '403 even with allowed:true',
      403,
      '{"allowed":true}',
      { allowed: false, reason: 'auth webhook answered HTTP 403' },
    ],
    ['500', 500, 'Internal Server Error', { allowed: false, reason: 'auth webhook answered HTTP 500' }],
    ['204 (only 200 allows)', 204, '', { allowed: false, reason: 'auth webhook answered HTTP 204' }],
    [
      '201 (only 200 allows)',
      201,
      '{"allowed":true}',
      { allowed: false, reason: 'auth webhook answered HTTP 201' },
    ],
  ];
  for (const [name, status, text, decision] of cases) {
    test(`${name} → ${decision.allowed ? 'allowed' : decision.reason}`, () => {
      assert.deepEqual(interpretAuthAnswer(status, text), decision);
    });
  }
});

describe('closeReason', () => {
  const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
  const cases: [string, string, string][] = [
    ['short ASCII is kept', 'channel not found', 'channel not found'],
    ['123 ASCII bytes are kept', 'a'.repeat(123), 'a'.repeat(123)],
    ['124 ASCII bytes become 120 and an ellipsis', 'a'.repeat(124), `${'a'.repeat(120)}...`],
    ['41 Japanese characters (123 bytes) are kept', 'あ'.repeat(41), 'あ'.repeat(41)],
    ['42 Japanese characters cut on a character boundary', 'あ'.repeat(42), `${'あ'.repeat(40)}...`],
    ['a Japanese character split after 2 bytes is dropped', `a${'あ'.repeat(41)}`, `a${'あ'.repeat(39)}...`],
    ['a Japanese character split after 1 byte is dropped', `ab${'あ'.repeat(41)}`, `ab${'あ'.repeat(39)}...`],
    ['an emoji split after 3 bytes is dropped', `a${'😀'.repeat(31)}`, `a${'😀'.repeat(29)}...`],
    ['a 2-byte character split in the middle is dropped', `a${'é'.repeat(70)}`, `a${'é'.repeat(59)}...`],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => {
      const reason = closeReason(text);
      assert.equal(reason, expected);
      assert.ok(bytes(reason) <= 123);
    });
  }

  test('any text comes back whole when it fits, else as a prefix of whole characters and "...", ≤ 123 bytes', () => {
    const unit = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      fc.constantFrom('a', 'é', 'あ', '😀'),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 160 }), (text) => {
        const reason = closeReason(text);
        assert.ok(bytes(reason) <= 123, `${bytes(reason)} bytes`);
        if (bytes(text) <= 123) {
          assert.equal(reason, text);
          return;
        }
        assert.ok(reason.endsWith('...'));
        const kept = reason.slice(0, -3);
        assert.ok(text.startsWith(kept), 'the kept part is a prefix of the text: no broken character');
        assert.ok(bytes(kept) > 116, `only the split character is dropped (kept ${bytes(kept)} bytes)`);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('a U+FFFD that the text really has just before the cut is kept', () => {
    const text = `${'a'.repeat(117)}\uFFFD${'b'.repeat(10)}`;
    assert.equal(closeReason(text), `${'a'.repeat(117)}\uFFFD...`);
  });
});
