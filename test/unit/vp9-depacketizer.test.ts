/**
 * Vp9Depacketizer (RFC 9628 §4): the payload descriptor in every form with the scalability structure, frame
 * assembly from B to E, spatial layers above the base ignored, malformed packets, the loss and keyframe rules,
 * then seeded property tests, one of them against werift's own VP9 descriptor reader.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Vp9RtpPayload } from 'werift';
import { parseVp9Descriptor } from '../../src/rtp/vp9-descriptor.ts';
import { Vp9Depacketizer } from '../../src/rtp/vp9-depacketizer.ts';
import {
  arbitrarySteps,
  checkCounters,
  frame,
  hex,
  testCases,
  type Case,
  type Step,
} from '../helpers/depacketizer-harness.ts';
import { checkLossModel, type ModelFrame } from '../helpers/loss-model.ts';
import { packetizeVp9, vp9Descriptor, type Vp9DescriptorOptions } from '../helpers/rtp-packetizers.ts';

/** Descriptor first byte bits: I P L F B E V Z. */
const keyPayload = '82 49 83 42 00 aa bb';
const interPayload = '86 00 40 cc dd';
/** A one-packet key frame (B, E) at RTP time 0 and one-packet inter frames (P, B, E). */
const keyAt0: Step = { payload: `0c ${keyPayload}`, ts: 0, marker: true };
const interAt = (ts: number): Step => ({ payload: `4c ${interPayload}`, ts, marker: true });
const key0 = frame(0, true, keyPayload);

const check = (cases: readonly Case[]): void => {
  testCases(() => new Vp9Depacketizer(), cases);
};

describe('parseVp9Descriptor', () => {
  const cases: { name: string; bytes: string; fields: Record<string, unknown> }[] = [
    {
      name: 'B and E only',
      bytes: '0c aa',
      fields: { isFrameStart: true, isFrameEnd: true, payloadOffset: 1 },
    },
    { name: '7-bit picture id', bytes: '8c 05 aa', fields: { pictureId: 5, payloadOffset: 2 } },
    { name: '15-bit picture id (M)', bytes: '8c 81 23 aa', fields: { pictureId: 0x123, payloadOffset: 3 } },
    {
      name: 'layer indices and TL0PICIDX in non-flexible mode',
      bytes: 'ac 05 b3 07 aa',
      fields: {
        temporalLayerId: 5,
        isSwitchingUp: true,
        spatialLayerId: 1,
        isInterLayerDependent: true,
        tl0PicIdx: 7,
        payloadOffset: 4,
      },
    },
    {
      name: 'one P_DIFF in flexible mode',
      bytes: 'dc 05 02 aa',
      fields: { isFlexible: true, pictureDiffs: [1], payloadOffset: 3 },
    },
    {
      name: 'three P_DIFFs chained by N',
      bytes: 'dc 05 03 05 06 aa',
      fields: { pictureDiffs: [1, 2, 3], payloadOffset: 5 },
    },
    {
      name: 'layer index without TL0PICIDX in flexible mode',
      bytes: 'fc 05 20 02 aa',
      fields: { temporalLayerId: 1, tl0PicIdx: undefined, payloadOffset: 4 },
    },
    {
      name: 'scalability structure with resolution and a picture group',
      bytes: '0e 18 01 40 00 f0 02 04 01 20 aa',
      fields: {
        scalability: {
          spatialLayerCount: 1,
          resolutions: [{ width: 320, height: 240 }],
          pictureGroupSize: 2,
        },
        payloadOffset: 10,
      },
    },
    {
      name: 'scalability structure for three spatial layers',
      bytes: '0e 50 00 a0 00 78 01 40 00 f0 02 80 01 e0 aa',
      fields: {
        scalability: {
          spatialLayerCount: 3,
          resolutions: [
            { width: 160, height: 120 },
            { width: 320, height: 240 },
            { width: 640, height: 480 },
          ],
          pictureGroupSize: 0,
        },
        payloadOffset: 14,
      },
    },
  ];
  for (const { name, bytes, fields } of cases) {
    test(name, () => {
      const result = parseVp9Descriptor(hex(bytes));
      assert.equal(result.kind, 'descriptor');
      const picked = Object.fromEntries(
        Object.keys(fields).map((key) => [key, result.descriptor[key as keyof typeof result.descriptor]]),
      );
      assert.deepEqual(picked, fields);
    });
  }
});

describe('Vp9Depacketizer frames', () => {
  check([
    {
      name: 'a one-packet key frame comes out without its descriptor',
      steps: [keyAt0],
      seen: [key0],
      stats: { packets: 1, frames: 1, malformedPackets: 0, droppedFrames: 0 },
    },
    {
      name: 'a key frame in three packets from B to E, with a picture id and the scalability structure',
      steps: [
        { payload: '8a 81 23 18 01 40 00 f0 00 82 49 83', ts: 0 },
        { payload: '80 81 23 42 00', ts: 0 },
        { payload: '84 81 23 aa bb', ts: 0, marker: true },
      ],
      seen: [key0],
    },
    {
      name: 'an inter frame in flexible mode with P_DIFFs is not a keyframe',
      steps: [keyAt0, { payload: `dc 06 03 05 06 ${interPayload}`, ts: 3000, marker: true }],
      seen: [key0, frame(3000, false, interPayload)],
    },
    {
      name: 'non-flexible mode with layer indices on the base layer',
      steps: [
        { payload: `2c 00 00 ${keyPayload}`, ts: 0, marker: true },
        { payload: `6c 20 00 ${interPayload}`, ts: 3000, marker: true },
      ],
      seen: [key0, frame(3000, false, interPayload)],
    },
    {
      name: 'spatial layers above the base are ignored and each of their frames counted as dropped',
      steps: [
        { payload: `2e 00 00 30 00 a0 00 78 01 40 00 f0 ${keyPayload}`, ts: 0 },
        { payload: '28 02 00 ee', ts: 0 },
        { payload: '24 02 00 ff', ts: 0, marker: true },
        { payload: `6c 20 00 ${interPayload}`, ts: 3000 },
        { payload: '6c 23 00 ee', ts: 3000, marker: true },
      ],
      seen: [key0, frame(3000, false, interPayload)],
      stats: { droppedFrames: 2, malformedPackets: 0, frames: 2 },
    },
    {
      name: 'a padding-only packet (empty payload) neither ends nor breaks the frame',
      steps: [
        { payload: `08 ${keyPayload}`, ts: 0 },
        { payload: '', ts: 0, marker: true },
        { payload: '04 ee', ts: 0, marker: true },
      ],
      seen: [frame(0, true, `${keyPayload} ee`)],
      stats: { malformedPackets: 0 },
    },
  ]);
});

describe('Vp9Depacketizer loss and keyframe rules', () => {
  check([
    {
      name: 'at the start, inter frames are dropped until a key frame, one request',
      steps: [interAt(0), interAt(3000), { ...keyAt0, ts: 6000 }, interAt(9000)],
      seen: ['keyframe-needed', frame(6000, true, keyPayload), frame(9000, false, interPayload)],
      stats: { droppedFrames: 2 },
    },
    {
      name: 'after a loss, frames are dropped until the next key frame, one request per episode',
      steps: [keyAt0, interAt(3000), 'lose', interAt(9000), 'lose', interAt(12000), { ...keyAt0, ts: 15000 }],
      seen: [key0, frame(3000, false, interPayload), 'keyframe-needed', frame(15000, true, keyPayload)],
      stats: { droppedFrames: 2 },
    },
    {
      name: 'a loss inside a key frame drops it; its later packets are not malformed',
      steps: [
        keyAt0,
        { payload: `08 ${keyPayload}`, ts: 3000 },
        'lose',
        { payload: '04 ee', ts: 3000, marker: true },
        interAt(6000),
      ],
      seen: [key0, 'keyframe-needed'],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
    {
      name: 'the tail of a frame whose start was lost is dropped, not malformed',
      steps: [keyAt0, 'lose', { payload: '40 cc', ts: 3000 }, { payload: '44 dd', ts: 3000, marker: true }],
      seen: [key0, 'keyframe-needed'],
      stats: { droppedFrames: 1, malformedPackets: 0 },
    },
    {
      name: 'a key frame right after a loss starts cleanly (B) and is emitted',
      steps: [keyAt0, 'lose', { ...keyAt0, ts: 6000 }],
      seen: [key0, 'keyframe-needed', frame(6000, true, keyPayload)],
    },
    {
      name: 'a timestamp change before E drops the unfinished frame',
      steps: [keyAt0, { payload: `48 ${interPayload}`, ts: 3000 }, interAt(6000), { ...keyAt0, ts: 9000 }],
      seen: [key0, 'keyframe-needed', frame(9000, true, keyPayload)],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
  ]);
});

const malformedForms: { name: string; packets: string[] }[] = [
  { name: 'I set without the picture id', packets: ['88'] },
  { name: 'M set without the extended picture id', packets: ['88 81'] },
  { name: 'L set without the layer index byte', packets: ['28'] },
  { name: 'L set in non-flexible mode without TL0PICIDX', packets: ['28 00'] },
  { name: 'P and F set without a P_DIFF', packets: ['58'] },
  { name: 'more than 3 P_DIFFs', packets: ['58 03 03 03 03 aa'] },
  { name: 'V set without the scalability structure', packets: ['0a'] },
  { name: 'scalability resolutions cut short', packets: ['0a 10 01 40 00'] },
  { name: 'scalability G set without N_G', packets: ['0a 08'] },
  { name: 'scalability picture group entry missing', packets: ['0a 08 02 00'] },
  { name: 'scalability picture group P_DIFFs cut short', packets: ['0a 08 01 08 01'] },
  { name: 'a descriptor without VP9 payload', packets: ['8c 05'] },
  { name: 'a marker on a packet without E', packets: [`48 ${interPayload}`] },
  { name: 'a packet with no frame started', packets: ['44 cc dd'] },
  { name: 'a second B before the frame ended', packets: [`48 ${interPayload}`, `4c ${interPayload}`] },
];

describe('Vp9Depacketizer malformed packets are counted, never thrown, and break the frame', () => {
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
});

const scalabilityBytes: fc.Arbitrary<number[]> = fc
  .record({
    layers: fc.integer({ min: 1, max: 8 }),
    sizes: fc.option(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 16, maxLength: 16 }), {
      nil: undefined,
    }),
    group: fc.option(
      fc.array(fc.record({ t: fc.nat(7), u: fc.boolean(), diffs: fc.array(fc.nat(255), { maxLength: 3 }) }), {
        maxLength: 4,
      }),
      {
        nil: undefined,
      },
    ),
  })
  .map(({ layers, sizes, group }) => {
    const bytes = [((layers - 1) << 5) | (sizes !== undefined ? 0x10 : 0) | (group !== undefined ? 0x08 : 0)];
    if (sizes !== undefined)
      for (const size of sizes.slice(0, layers * 2)) bytes.push(size >> 8, size & 0xff);
    if (group !== undefined) {
      bytes.push(group.length);
      for (const { t, u, diffs } of group)
        bytes.push((t << 5) | (u ? 0x10 : 0) | (diffs.length << 2), ...diffs);
    }
    return bytes;
  });

const descriptorOptions: fc.Arbitrary<Vp9DescriptorOptions> = fc.record(
  {
    pictureId: fc.integer({ min: 0, max: 0x7fff }),
    isLongPictureId: fc.boolean(),
    isFlexible: fc.boolean(),
    layer: fc.record({ temporalLayerId: fc.nat(7), spatialLayerId: fc.constant(0), tl0PicIdx: fc.nat(255) }),
    pictureDiffs: fc.array(fc.integer({ min: 1, max: 127 }), { minLength: 1, maxLength: 3 }),
    scalability: scalabilityBytes,
  },
  { requiredKeys: [] },
);

describe('Vp9Depacketizer properties', () => {
  test('random payloads never throw, never change the input, and keep the counters consistent', () => {
    fc.assert(
      fc.property(arbitrarySteps([0x04, 0x08, 0x0a, 0x0c, 0x0e, 0x2e, 0x4c, 0x8a, 0xdc, 0xfc]), (steps) => {
        checkCounters(new Vp9Depacketizer(), steps);
      }),
      { seed: 9628, numRuns: 500 },
    );
  });

  test('the descriptor reads as werift reads it, for any valid descriptor', () => {
    const flags = fc.record({ isStart: fc.boolean(), isEnd: fc.boolean(), isInter: fc.boolean() });
    fc.assert(
      fc.property(
        flags,
        descriptorOptions,
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (flag, options, body) => {
          const bytes = Uint8Array.from([...vp9Descriptor({ ...flag, isStart: true }, options), ...body]);
          const ours = parseVp9Descriptor(bytes);
          assert.equal(ours.kind, 'descriptor');
          const theirs = Vp9RtpPayload.deSerialize(Buffer.from(bytes));
          const { descriptor } = ours;
          assert.deepEqual(bytes.subarray(descriptor.payloadOffset), new Uint8Array(theirs.payload));
          assert.equal(descriptor.pictureId, theirs.pictureId);
          assert.equal(descriptor.isInterPredicted, theirs.pBit === 1);
          assert.equal(descriptor.isFrameStart, theirs.bBit === 1);
          assert.equal(descriptor.spatialLayerId, theirs.sid ?? 0);
          assert.equal(descriptor.temporalLayerId, theirs.tid ?? 0);
          assert.equal(descriptor.tl0PicIdx, theirs.tl0PicIdx);
          assert.deepEqual(descriptor.pictureDiffs, theirs.pDiff);
          assert.deepEqual(descriptor.scalability?.resolutions.map((size) => size.width) ?? [], theirs.width);
        },
      ),
      { seed: 9629, numRuns: 500 },
    );
  });

  test('with random loss, no emitted frame holds bytes of one that lost a packet', () => {
    const vp9Frame = fc.record({
      isKeyframe: fc.boolean(),
      body: fc.uint8Array({ minLength: 1, maxLength: 900 }),
      sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(vp9Frame, { minLength: 1, maxLength: 20 }),
        descriptorOptions,
        fc.array(fc.nat(9), { minLength: 1, maxLength: 64 }),
        (frames, options, lossPattern) => {
          const toFrame = (
            { isKeyframe, body, sizes }: (typeof frames)[number],
            index: number,
          ): ModelFrame => ({
            ts: 3000 * index,
            isKeyframe,
            expected: body,
            packets: packetizeVp9(body, !isKeyframe, sizes, options),
          });
          const sentinel = toFrame({ isKeyframe: true, body: hex('82 49 83 42'), sizes: [2] }, frames.length);
          const isLost = (index: number): boolean => lossPattern[index % lossPattern.length] === 0;
          checkLossModel(new Vp9Depacketizer(), frames.map(toFrame), sentinel, isLost);
        },
      ),
      { seed: 9630, numRuns: 300 },
    );
  });
});
