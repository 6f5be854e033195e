/**
 * Vp8Depacketizer (RFC 7741 §4): the payload descriptor in every form, frame assembly, malformed packets, the
 * loss and keyframe rules, then seeded property tests.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseVp8Descriptor, type Vp8Descriptor } from '../../src/rtp/vp8-descriptor.ts';
import { Vp8Depacketizer } from '../../src/rtp/vp8-depacketizer.ts';
import {
  arbitrarySteps,
  checkCounters,
  frame,
  hex,
  run,
  testCases,
  type Case,
  type Step,
} from '../helpers/depacketizer-harness.ts';
import { checkLossModel, type ModelFrame } from '../helpers/loss-model.ts';
import { packetizeVp8, type Vp8DescriptorOptions } from '../helpers/rtp-packetizers.ts';

/** A key frame: P=0, show_frame, then the start code 9d 01 2a and 320x240 (RFC 6386 §9.1), then data. */
const keyPayload = '10 02 00 9d 01 2a 40 01 f0 00 aa bb';
/** An inter frame: P=1. */
const interPayload = '31 01 00 cc dd';
const keyAt0: Step = { payload: `10 ${keyPayload}`, ts: 0, marker: true };
const interAt = (ts: number): Step => ({ payload: `10 ${interPayload}`, ts, marker: true });
const key0 = frame(0, true, keyPayload);

const check = (cases: readonly Case[]): void => {
  testCases(() => new Vp8Depacketizer(), cases);
};

describe('parseVp8Descriptor', () => {
  const none = {
    pictureId: undefined,
    tl0PicIdx: undefined,
    temporalLayerId: undefined,
    isLayerSync: undefined,
    keyIndex: undefined,
  };
  const base = { isNonReference: false, isPartitionStart: true, partitionId: 0, ...none };
  const cases: { name: string; bytes: string; descriptor: Vp8Descriptor }[] = [
    { name: 'no extension', bytes: '10 aa', descriptor: { ...base, payloadOffset: 1 } },
    {
      name: 'N set, PID 3, not a start',
      bytes: '23 aa',
      descriptor: {
        ...base,
        isNonReference: true,
        isPartitionStart: false,
        partitionId: 3,
        payloadOffset: 1,
      },
    },
    { name: 'X with nothing in it', bytes: '90 00 aa', descriptor: { ...base, payloadOffset: 2 } },
    {
      name: '7-bit PictureID',
      bytes: '90 80 05 aa',
      descriptor: { ...base, pictureId: 5, payloadOffset: 3 },
    },
    {
      name: '15-bit PictureID',
      bytes: '90 80 81 23 aa',
      descriptor: { ...base, pictureId: 0x123, payloadOffset: 4 },
    },
    { name: 'TL0PICIDX', bytes: '90 40 07 aa', descriptor: { ...base, tl0PicIdx: 7, payloadOffset: 3 } },
    {
      name: 'TID and Y',
      bytes: '90 20 a0 aa',
      descriptor: { ...base, temporalLayerId: 2, isLayerSync: true, payloadOffset: 3 },
    },
    { name: 'KEYIDX', bytes: '90 10 13 aa', descriptor: { ...base, keyIndex: 19, payloadOffset: 3 } },
    {
      name: 'I with M, L, T and K together',
      bytes: '90 f0 ff ff 07 45 aa',
      descriptor: {
        ...base,
        pictureId: 0x7fff,
        tl0PicIdx: 7,
        temporalLayerId: 1,
        isLayerSync: false,
        keyIndex: 5,
        payloadOffset: 6,
      },
    },
  ];
  for (const { name, bytes, descriptor } of cases) {
    test(name, () => {
      assert.deepEqual(parseVp8Descriptor(hex(bytes)), { kind: 'descriptor', descriptor });
    });
  }
  const cut: [string, string][] = [
    ['empty payload', ''],
    ['X set, extension byte missing', '80'],
    ['I set, PictureID missing', '90 80'],
    ['M set, second PictureID byte missing', '90 80 81'],
    ['L set, TL0PICIDX missing', '90 40'],
    ['T set, TID byte missing', '90 20'],
    ['K set, KEYIDX byte missing', '90 10'],
    ['I, L and T set, T byte missing', '90 e0 05 07'],
  ];
  for (const [name, bytes] of cut) {
    test(`${name} is malformed`, () => {
      assert.equal(parseVp8Descriptor(hex(bytes)).kind, 'malformed');
    });
  }
});

describe('Vp8Depacketizer frames', () => {
  check([
    {
      name: 'a one-packet key frame comes out without its descriptor',
      steps: [keyAt0],
      seen: [key0],
      stats: { packets: 1, frames: 1, malformedPackets: 0, droppedFrames: 0 },
    },
    {
      name: 'a key frame in three packets with a 15-bit PictureID is joined',
      steps: [
        { payload: '90 80 81 23 10 02 00 9d 01 2a 40 01 f0 00', ts: 0 },
        { payload: '80 80 81 23 aa', ts: 0 },
        { payload: '80 80 81 23 bb', ts: 0, marker: true },
      ],
      seen: [key0],
    },
    {
      name: 'a partition start with PID 1 continues the frame',
      steps: [
        { payload: `10 ${keyPayload}`, ts: 0 },
        { payload: '11 ee ff', ts: 0, marker: true },
      ],
      seen: [frame(0, true, `${keyPayload} ee ff`)],
    },
    {
      name: 'an inter frame after a key frame is not a keyframe',
      steps: [
        keyAt0,
        { payload: '90 e0 05 07 40 31 01 00', ts: 3000 },
        { payload: '80 e0 05 07 40 cc dd', ts: 3000, marker: true },
      ],
      seen: [key0, frame(3000, false, interPayload)],
    },
    {
      name: 'a padding-only packet (empty payload) neither ends nor breaks the frame',
      steps: [
        { payload: `10 ${keyPayload}`, ts: 0 },
        { payload: '', ts: 0, marker: true },
        { payload: '00 ee', ts: 0, marker: true },
      ],
      seen: [frame(0, true, `${keyPayload} ee`)],
      stats: { malformedPackets: 0 },
    },
  ]);
});

describe('Vp8Depacketizer loss and keyframe rules', () => {
  check([
    {
      name: 'at the start, inter frames are dropped until a key frame, one request',
      steps: [interAt(0), interAt(3000), { ...keyAt0, ts: 6000 }, interAt(9000)],
      seen: ['keyframe-needed', frame(6000, true, keyPayload), frame(9000, false, interPayload)],
      stats: { droppedFrames: 2, frames: 2 },
    },
    {
      name: 'after a loss, frames are dropped until the next key frame, one request per episode',
      steps: [keyAt0, interAt(3000), 'lose', interAt(9000), 'lose', interAt(12000), { ...keyAt0, ts: 15000 }],
      seen: [key0, frame(3000, false, interPayload), 'keyframe-needed', frame(15000, true, keyPayload)],
      stats: { droppedFrames: 2 },
    },
    {
      name: 'a loss inside a frame drops it; its later packets are not malformed',
      steps: [
        keyAt0,
        { payload: '10 31 01 00', ts: 3000 },
        'lose',
        { payload: '00 cc', ts: 3000, marker: true },
        interAt(6000),
      ],
      seen: [key0, 'keyframe-needed'],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
    {
      name: 'a loss inside a key frame drops it, however whole its end looks',
      steps: [
        keyAt0,
        { payload: '10 10 02 00 9d 01 2a 40 01 f0 00', ts: 3000 },
        'lose',
        { payload: '00 aa bb', ts: 3000, marker: true },
      ],
      seen: [key0, 'keyframe-needed'],
      stats: { droppedFrames: 1, malformedPackets: 0, frames: 1 },
    },
    {
      name: 'the tail of a frame whose start was lost is dropped, not malformed',
      steps: [keyAt0, 'lose', { payload: '00 cc', ts: 3000 }, { payload: '00 dd', ts: 3000, marker: true }],
      seen: [key0, 'keyframe-needed'],
      stats: { droppedFrames: 1, malformedPackets: 0 },
    },
    {
      name: 'a key frame right after a loss starts cleanly (S=1, PID=0) and is emitted',
      steps: [keyAt0, 'lose', { ...keyAt0, ts: 6000 }],
      seen: [key0, 'keyframe-needed', frame(6000, true, keyPayload)],
    },
    {
      name: 'a stream that starts in the middle of a frame drops it without a malformed count',
      steps: [
        { payload: '00 cc', ts: 0, marker: true },
        { ...keyAt0, ts: 3000 },
      ],
      seen: ['keyframe-needed', frame(3000, true, keyPayload)],
      stats: { droppedFrames: 1, malformedPackets: 0 },
    },
    {
      name: 'a timestamp change before the marker drops the unfinished frame',
      steps: [keyAt0, { payload: '10 31 01 00', ts: 3000 }, interAt(6000), { ...keyAt0, ts: 9000 }],
      seen: [key0, 'keyframe-needed', frame(9000, true, keyPayload)],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
  ]);
});

const malformedForms: { name: string; packets: string[] }[] = [
  { name: 'X set without the extension byte', packets: ['80'] },
  { name: 'I set without the PictureID', packets: ['90 80'] },
  { name: 'M set without the second PictureID byte', packets: ['90 80 81'] },
  { name: 'L set without TL0PICIDX', packets: ['90 40'] },
  { name: 'T set without the TID byte', packets: ['90 20'] },
  { name: 'K set without the KEYIDX byte', packets: ['90 10'] },
  { name: 'a descriptor without VP8 payload', packets: ['90 80 05'] },
  { name: 'a frame start shorter than the 3-byte payload header', packets: ['10 31 01'] },
  { name: 'a key frame start shorter than 10 bytes', packets: ['10 10 02 00 9d 01 2a 40 01 f0'] },
  { name: 'a key frame without the start code 9d 01 2a', packets: ['10 10 02 00 9d 01 2b 40 01 f0 00'] },
  { name: 'a continuation with no frame started', packets: ['00 cc dd'] },
  {
    name: 'a second frame start before the first one ended',
    packets: [`10 ${interPayload}`, `10 ${interPayload}`],
  },
];

describe('Vp8Depacketizer malformed packets are counted, never thrown, and break the frame', () => {
  check(
    malformedForms.map(({ name, packets }) => ({
      name,
      steps: [
        keyAt0,
        ...packets.map((payload, index) => ({ payload, ts: 3000, marker: index === packets.length - 1 })),
        interAt(6000),
        { ...keyAt0, ts: 9000 },
      ],
      seen: [key0, 'keyframe-needed', frame(9000, true, keyPayload)],
      stats: { malformedPackets: 1, droppedFrames: 2, frames: 2 },
    })),
  );

  test('a frame over maxFrameBytes is malformed and dropped', () => {
    const result = run(new Vp8Depacketizer({ maxFrameBytes: 14 }), [
      keyAt0,
      { payload: `10 ${interPayload}`, ts: 3000 },
      { payload: '00 01 02 03 04 05 06 07 08 09 0a', ts: 3000, marker: true },
    ]);
    assert.deepEqual(result.seen, [key0, 'keyframe-needed']);
    assert.match(result.reasons[0] ?? '', /larger than 14 bytes/);
  });
});

const descriptorOptions: fc.Arbitrary<Vp8DescriptorOptions> = fc.record(
  {
    pictureId: fc.integer({ min: 0, max: 0x7fff }),
    isLongPictureId: fc.boolean(),
    tl0PicIdx: fc.nat(255),
    temporalLayerId: fc.nat(3),
    keyIndex: fc.nat(31),
  },
  { requiredKeys: [] },
);

describe('Vp8Depacketizer properties', () => {
  test('random payloads never throw, never change the input, and keep the counters consistent', () => {
    fc.assert(
      fc.property(arbitrarySteps([0x00, 0x10, 0x11, 0x80, 0x90, 0xb0]), (steps) => {
        checkCounters(new Vp8Depacketizer(), steps);
      }),
      { seed: 7741, numRuns: 500 },
    );
  });

  test('with random loss, no emitted frame holds bytes of one that lost a packet', () => {
    const vp8Frame = fc.record({
      isKeyframe: fc.boolean(),
      body: fc.uint8Array({ minLength: 0, maxLength: 900 }),
      sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(vp8Frame, { minLength: 1, maxLength: 20 }),
        descriptorOptions,
        fc.array(fc.nat(9), { minLength: 1, maxLength: 64 }),
        (frames, options, lossPattern) => {
          const toFrame = (
            { isKeyframe, body, sizes }: (typeof frames)[number],
            index: number,
          ): ModelFrame => {
            const header = isKeyframe ? hex('10 02 00 9d 01 2a 40 01 f0 00') : hex('31 01 00');
            const bytes = Uint8Array.from([...header, ...body]);
            // The depacketizer wants the 10-byte key frame header (RFC 7741 §4.3) whole in the first packet.
            const firstSizes = [Math.max(10, sizes[0] ?? 10), ...sizes.slice(1)];
            return {
              ts: 3000 * index,
              isKeyframe,
              expected: bytes,
              packets: packetizeVp8(bytes, firstSizes, options),
            };
          };
          const sentinel = toFrame({ isKeyframe: true, body: hex('aa'), sizes: [4] }, frames.length);
          const isLost = (index: number): boolean => lossPattern[index % lossPattern.length] === 0;
          checkLossModel(new Vp8Depacketizer(), frames.map(toFrame), sentinel, isLost);
        },
      ),
      { seed: 7742, numRuns: 300 },
    );
  });
});
