/**
 * Keyframe-start detection on RTP payloads, with literal bytes: H.264 (RFC 6184 §5.6-5.8), VP8 (RFC 7741 §4.2)
 * and VP9 (RFC 9628 §4.2). Every case also checks that the caller's bytes are left as they were.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  isH264KeyframeStart,
  isKeyframeStart,
  isVp8KeyframeStart,
  isVp9KeyframeStart,
  type VideoCodecName,
} from '../../src/rtp/keyframe.ts';

interface Case {
  name: string;
  bytes: number[];
  key: boolean;
}

const detectors: Record<VideoCodecName, (payload: Uint8Array) => boolean> = {
  H264: isH264KeyframeStart,
  VP8: isVp8KeyframeStart,
  VP9: isVp9KeyframeStart,
};

/** Runs one detector on a copy of `bytes` and checks the copy is unchanged afterwards. */
function detect(codec: VideoCodecName, bytes: readonly number[]): boolean {
  const payload = Uint8Array.from(bytes);
  const result = detectors[codec](payload);
  assert.deepEqual([...payload], bytes, 'the payload is not mutated');
  assert.equal(isKeyframeStart(codec, Uint8Array.from(bytes)), result, 'isKeyframeStart dispatches by codec');
  return result;
}

const sps = [0x67, 0x42, 0xc0, 0x1f];
const pps = [0x68, 0xce, 0x3c, 0x80];
const idr = [0x65, 0x88, 0x84, 0x00];
const nonIdr = [0x41, 0x9a, 0x02, 0x03];
/** STAP-A (type 24, NRI 3): each NAL unit preceded by its 16-bit size. */
const stapA = (...nals: number[][]): number[] => [0x78, ...nals.flatMap((nal) => [0, nal.length, ...nal])];

const h264Cases: Case[] = [
  { name: 'single NAL IDR slice (type 5)', bytes: idr, key: true },
  { name: 'single NAL IDR with NRI 0', bytes: [0x05, 0x88], key: true },
  { name: 'single NAL SPS (type 7)', bytes: sps, key: true },
  { name: 'single NAL PPS (type 8)', bytes: pps, key: false },
  { name: 'single NAL non-IDR slice (type 1)', bytes: nonIdr, key: false },
  { name: 'single NAL SEI (type 6)', bytes: [0x06, 0x05, 0x10], key: false },
  { name: 'STAP-A with SPS, PPS and IDR', bytes: stapA(sps, pps, idr), key: true },
  { name: 'STAP-A whose IDR is its second unit', bytes: stapA(pps, idr), key: true },
  { name: 'STAP-A whose IDR is its third unit', bytes: stapA([0x06, 0x05], nonIdr, idr), key: true },
  { name: 'STAP-A with only non-IDR slices', bytes: stapA(nonIdr, nonIdr), key: false },
  { name: 'STAP-A with no units', bytes: [0x78], key: false },
  { name: 'STAP-A with a one-byte size field', bytes: [0x78, 0x00], key: false },
  { name: 'STAP-A with a size but no NAL byte', bytes: [0x78, 0x00, 0x04], key: false },
  { name: 'STAP-A with a zero size before an IDR', bytes: [0x78, 0x00, 0x00, ...idr], key: false },
  { name: 'STAP-A cut inside the second size field', bytes: [...stapA(nonIdr), 0x00], key: false },
  { name: 'STAP-A whose size runs past the end', bytes: [0x78, 0x00, 0x40, ...nonIdr], key: false },
  { name: 'FU-A start of an IDR (FU header 0x85)', bytes: [0x7c, 0x85, 0x88, 0x84], key: true },
  { name: 'FU-A start of an IDR with NRI 0', bytes: [0x1c, 0x85, 0x88], key: true },
  { name: 'FU-A middle of an IDR (0x05)', bytes: [0x7c, 0x05, 0x11, 0x22], key: false },
  { name: 'FU-A end of an IDR (0x45)', bytes: [0x7c, 0x45, 0x11, 0x22], key: false },
  { name: 'FU-A start of a non-IDR slice (0x81)', bytes: [0x7c, 0x81, 0x9a, 0x02], key: false },
  { name: 'FU-A indicator with no FU header', bytes: [0x7c], key: false },
  { name: 'empty payload', bytes: [], key: false },
];

// RFC 7741 §4.2 descriptor: X R N S R PID(3); extension I L T K; VP8 payload header bit 0 is P (inverse key
// frame). Each layout is tried with a key and a non-key header, and its extension bytes are given the parity
// opposite to the header, so reading any of them as the header flips the answer.
const vp8KeyHeader = 0xb0;
const vp8InterHeader = 0xb1;
const vp8Layouts: { name: string; build: (odd: number) => number[] }[] = [
  { name: 'no extension', build: () => [0x10] },
  { name: 'X with no I, L, T, K', build: () => [0x90, 0x00] },
  { name: 'X, I with a 7-bit PictureID', build: (odd) => [0x90, 0x80, 0x2a | odd] },
  { name: 'X, I with a 15-bit PictureID (M set)', build: (odd) => [0x90, 0x80, 0x80 | odd, 0x22 | odd] },
  { name: 'X, L with TL0PICIDX', build: (odd) => [0x90, 0x40, 0x06 | odd] },
  { name: 'X, T with TID|Y|KEYIDX', build: (odd) => [0x90, 0x20, 0x40 | odd] },
  { name: 'X, K with TID|Y|KEYIDX', build: (odd) => [0x90, 0x10, 0x04 | odd] },
  { name: 'X, T and K sharing one byte', build: (odd) => [0x90, 0x30, 0x44 | odd] },
  {
    name: 'X, I (15-bit), L, T and K',
    build: (odd) => [0x90, 0xf0, 0x80 | odd, 0x22 | odd, 0x06 | odd, 0x44 | odd],
  },
];
const vp8Cases: Case[] = [
  ...vp8Layouts.flatMap(({ name, build }) => [
    { name: `${name}, P=0`, bytes: [...build(1), vp8KeyHeader, 0x42, 0x00, 0x9d, 0x01, 0x2a], key: true },
    { name: `${name}, P=1`, bytes: [...build(0), vp8InterHeader, 0x42, 0x00], key: false },
  ]),
  { name: 'S=0 (not the start of a partition)', bytes: [0x00, vp8KeyHeader], key: false },
  { name: 'S=1 in partition 1', bytes: [0x11, vp8KeyHeader], key: false },
  { name: 'descriptor only, no header', bytes: [0x10], key: false },
  { name: 'truncated right after X', bytes: [0x90], key: false },
  { name: 'truncated after I, before the PictureID', bytes: [0x90, 0x80], key: false },
  { name: 'truncated inside a 15-bit PictureID', bytes: [0x90, 0x80, 0x81], key: false },
  { name: 'truncated before the header after L and T', bytes: [0x90, 0x60, 0x00, 0x00], key: false },
  { name: 'empty payload', bytes: [], key: false },
];

// RFC 9628 §4.2 descriptor: I P L F B E V Z.
const vp9Cases: Case[] = [
  { name: 'B=1, P=0', bytes: [0x08], key: true },
  { name: 'I, B, E with a 15-bit PictureID, P=0', bytes: [0x8c, 0x80, 0x01, 0x83, 0x49], key: true },
  { name: 'flexible mode, B=1, P=0', bytes: [0x98, 0x81], key: true },
  { name: 'B=1, P=1', bytes: [0xcc, 0x80, 0x02], key: false },
  { name: 'B=0, P=0 (a later packet of the frame)', bytes: [0x84, 0x80, 0x01], key: false },
  { name: 'B=0, P=1', bytes: [0xc4], key: false },
  { name: 'empty payload', bytes: [], key: false },
];

const table: [VideoCodecName, Case[]][] = [
  ['H264', h264Cases],
  ['VP8', vp8Cases],
  ['VP9', vp9Cases],
];

for (const [codec, cases] of table) {
  describe(`${codec} keyframe start`, () => {
    for (const { name, bytes, key } of cases) {
      test(`${name} → ${key}`, () => {
        assert.equal(detect(codec, bytes), key);
      });
    }
  });
}

describe('keyframe detection on arbitrary bytes', () => {
  const codecs: VideoCodecName[] = ['H264', 'VP8', 'VP9'];

  test('never throws, always answers a boolean and leaves the payload unchanged', () => {
    fc.assert(
      fc.property(fc.constantFrom(...codecs), fc.uint8Array({ maxLength: 64 }), (codec, payload) => {
        const before = Uint8Array.from(payload);
        const result = isKeyframeStart(codec, payload);
        assert.equal(typeof result, 'boolean');
        assert.deepEqual(payload, before);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  test('a keyframe start from the table stays one whatever bytes follow it', () => {
    const keyCases = table.flatMap(([codec, cases]) =>
      cases.filter((c) => c.key).map((c) => ({ codec, bytes: c.bytes })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...keyCases),
        fc.uint8Array({ maxLength: 32 }),
        ({ codec, bytes }, tail) => {
          assert.equal(detect(codec, [...bytes, ...tail]), true);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });
});
