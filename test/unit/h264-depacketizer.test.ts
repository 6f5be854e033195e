/**
 * H264Depacketizer (RFC 6184): literal-byte tables for every packetization form and every malformed form, the
 * loss and keyframe rules, SPS/PPS insertion, then seeded property tests.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { H264Depacketizer } from '../../src/rtp/h264-depacketizer.ts';
import {
  arbitrarySteps,
  checkCounters,
  frame,
  hex,
  run,
  toHex,
  testCases,
  type Case,
  type Step,
} from '../helpers/depacketizer-harness.ts';
import { checkLossModel, type ModelFrame } from '../helpers/loss-model.ts';
import { fuA, packetizeH264 } from '../helpers/rtp-packetizers.ts';

const sps = '67 42 c0 1f da 01 40 16 e8';
const pps = '68 ce 3c 80';
const idr = '65 88 84 00 33 ff';
const slice = '41 9a 02 03';
const sei = '06 05 01 aa 80';
const aud = '09 f0';
const sc = '00 00 00 01';
const keyAnnexB = `${sc} ${sps} ${sc} ${pps} ${sc} ${idr}`;
/** STAP-A (RFC 6184 §5.7.1) of the SPS (9 bytes) and PPS (4 bytes). */
const stapSpsPps = `78 00 09 ${sps} 00 04 ${pps}`;
/** A whole keyframe access unit in one STAP-A, at RTP time 0. */
const keyAt0: Step = { payload: `78 00 09 ${sps} 00 04 ${pps} 00 06 ${idr}`, ts: 0, marker: true };
const sliceAt = (ts: number): Step => ({ payload: slice, ts, marker: true });

const check = (cases: readonly Case[]): void => {
  testCases(() => new H264Depacketizer(), cases);
};

describe('H264Depacketizer packetization forms', () => {
  check([
    {
      name: 'single NAL unit packets SPS, PPS, IDR make one Annex-B keyframe at the marker',
      steps: [
        { payload: sps, ts: 0 },
        { payload: pps, ts: 0 },
        { payload: idr, ts: 0, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB)],
      stats: { packets: 3, frames: 1, malformedPackets: 0, droppedFrames: 0 },
    },
    {
      name: 'an STAP-A of SPS and PPS, then the IDR alone',
      steps: [
        { payload: stapSpsPps, ts: 0 },
        { payload: idr, ts: 0, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB)],
    },
    {
      name: 'one STAP-A carrying the whole access unit',
      steps: [keyAt0],
      seen: [frame(0, true, keyAnnexB)],
    },
    {
      name: 'FU-A start, middle and end rebuild the IDR with the NRI of the FU indicator',
      steps: [
        { payload: stapSpsPps, ts: 0 },
        { payload: '7c 85 88 84', ts: 0 },
        { payload: '7c 05 00', ts: 0 },
        { payload: '7c 45 33 ff', ts: 0, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB)],
    },
    {
      name: 'FU-A with NRI 2 and a non-IDR slice gives NAL header 41',
      steps: [keyAt0, { payload: '5c 81 9a 02', ts: 3000 }, { payload: '5c 41 03', ts: 3000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, false, `${sc} ${slice}`)],
    },
    {
      name: 'an FU-A with both S and E set is accepted as a whole NAL unit (RFC 6184 §5.8 departure)',
      steps: [keyAt0, { payload: '5c c1 9a 02 03', ts: 3000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, false, `${sc} ${slice}`)],
    },
    {
      name: 'a timestamp change ends the access unit even without a marker',
      steps: [
        { payload: stapSpsPps, ts: 0 },
        { payload: idr, ts: 0 },
        { payload: slice, ts: 3000 },
      ],
      seen: [frame(0, true, keyAnnexB)],
      stats: { frames: 1 },
    },
    {
      name: 'a padding-only packet (empty payload) neither ends nor breaks the access unit',
      steps: [
        { payload: stapSpsPps, ts: 0 },
        { payload: '', ts: 0 },
        { payload: '', ts: 9000, marker: true },
        { payload: idr, ts: 0, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB)],
      stats: { packets: 4, malformedPackets: 0 },
    },
    {
      name: 'SEI and AUD are kept in order',
      steps: [
        { payload: aud, ts: 0 },
        { payload: `78 00 05 ${sei} 00 09 ${sps} 00 04 ${pps}`, ts: 0 },
        { payload: idr, ts: 0, marker: true },
      ],
      seen: [frame(0, true, `${sc} ${aud} ${sc} ${sei} ${keyAnnexB}`)],
    },
  ]);
});

describe('H264Depacketizer SPS/PPS insertion', () => {
  check([
    {
      name: 'the latest SPS and PPS are put before an IDR access unit that lacks both',
      steps: [keyAt0, sliceAt(3000), { payload: idr, ts: 6000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, false, `${sc} ${slice}`), frame(6000, true, keyAnnexB)],
    },
    {
      name: 'a missing PPS goes after the SPS of the access unit, before the IDR',
      steps: [keyAt0, { payload: sps, ts: 3000 }, { payload: idr, ts: 3000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, true, keyAnnexB)],
    },
    {
      name: 'a missing SPS goes before the PPS of the access unit',
      steps: [keyAt0, { payload: pps, ts: 3000 }, { payload: idr, ts: 3000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, true, keyAnnexB)],
    },
    {
      name: 'parameter sets go after AUD and SEI, right before the IDR slice',
      steps: [keyAt0, { payload: `78 00 02 ${aud} 00 05 ${sei} 00 06 ${idr}`, ts: 3000, marker: true }],
      seen: [frame(0, true, keyAnnexB), frame(3000, true, `${sc} ${aud} ${sc} ${sei} ${keyAnnexB}`)],
    },
    {
      name: 'a newer SPS replaces the kept one',
      steps: [
        keyAt0,
        { payload: `78 00 03 67 64 00 00 04 ${pps}`, ts: 3000 },
        { payload: idr, ts: 3000, marker: true },
        { payload: idr, ts: 6000, marker: true },
      ],
      seen: [
        frame(0, true, keyAnnexB),
        frame(3000, true, `${sc} 67 64 00 ${sc} ${pps} ${sc} ${idr}`),
        frame(6000, true, `${sc} 67 64 00 ${sc} ${pps} ${sc} ${idr}`),
      ],
    },
    {
      name: 'an IDR before any PPS was seen is not decodable: dropped, keyframe asked for',
      steps: [{ payload: sps, ts: 0 }, { payload: idr, ts: 0, marker: true }, keyAt0],
      seen: ['keyframe-needed', frame(0, true, keyAnnexB)],
      stats: { droppedFrames: 1 },
    },
    {
      name: 'an IDR after an AUD with no SPS/PPS ever seen is dropped and a keyframe asked for',
      steps: [
        { payload: aud, ts: 0 },
        { payload: idr, ts: 0, marker: true },
      ],
      seen: ['keyframe-needed'],
      stats: { droppedFrames: 1, frames: 0 },
    },
  ]);
});

describe('H264Depacketizer loss and keyframe rules', () => {
  check([
    {
      name: 'at the start, non-IDR access units are dropped until the first IDR, one request',
      steps: [sliceAt(0), sliceAt(3000), sliceAt(6000), { ...keyAt0, ts: 9000 }, sliceAt(12000)],
      seen: ['keyframe-needed', frame(9000, true, keyAnnexB), frame(12000, false, `${sc} ${slice}`)],
      stats: { droppedFrames: 3, frames: 2 },
    },
    {
      name: 'after a loss, access units are dropped until the next IDR, one request per episode',
      steps: [keyAt0, sliceAt(3000), 'lose', sliceAt(9000), 'lose', sliceAt(12000), { ...keyAt0, ts: 15000 }],
      seen: [
        frame(0, true, keyAnnexB),
        frame(3000, false, `${sc} ${slice}`),
        'keyframe-needed',
        frame(15000, true, keyAnnexB),
      ],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
    {
      name: 'a loss inside an access unit drops it; its later fragments are not malformed',
      steps: [
        keyAt0,
        { payload: '5c 81 9a', ts: 3000 },
        'lose',
        { payload: '5c 41 03', ts: 3000, marker: true },
        sliceAt(6000),
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed'],
      stats: { droppedFrames: 2, malformedPackets: 0 },
    },
    {
      name: 'a loss inside an IDR access unit drops it, however whole its end looks',
      steps: [
        keyAt0,
        { payload: stapSpsPps, ts: 3000 },
        { payload: '7c 85 88 84', ts: 3000 },
        'lose',
        { payload: '7c 45 33 ff', ts: 3000, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed'],
      stats: { droppedFrames: 1, malformedPackets: 0, frames: 1 },
    },
    {
      name: 'the first packets after a loss may be the tail of an access unit: FU-A middle is not malformed',
      steps: [
        keyAt0,
        'lose',
        { payload: '5c 01 9a', ts: 3000 },
        { payload: '5c 41 03', ts: 3000, marker: true },
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed'],
      stats: { droppedFrames: 1, malformedPackets: 0 },
    },
    {
      name: 'an IDR access unit that begins with its SPS right after a loss is whole and emitted',
      steps: [keyAt0, 'lose', { ...keyAt0, ts: 6000 }],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', frame(6000, true, keyAnnexB)],
    },
    {
      name: 'an IDR access unit right after a loss that begins with an AUD is whole and emitted',
      steps: [keyAt0, 'lose', { payload: aud, ts: 6000 }, { payload: idr, ts: 6000, marker: true }],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', frame(6000, true, `${sc} ${aud} ${keyAnnexB}`)],
    },
    {
      name: 'an IDR access unit right after a loss that may lack its head is dropped and asked for again',
      steps: [
        keyAt0,
        'lose',
        { payload: idr, ts: 6000, marker: true },
        sliceAt(9000),
        { ...keyAt0, ts: 12000 },
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', 'keyframe-needed', frame(12000, true, keyAnnexB)],
      stats: { droppedFrames: 2 },
    },
    {
      name: 'a stream that starts in the middle of an FU-A drops that access unit without a malformed count',
      steps: [
        { payload: '7c 05 00', ts: 0 },
        { payload: '7c 45 33 ff', ts: 0, marker: true },
        { ...keyAt0, ts: 3000 },
      ],
      seen: ['keyframe-needed', frame(3000, true, keyAnnexB)],
      stats: { droppedFrames: 1, malformedPackets: 0 },
    },
    {
      name: 'losses and a malformed packet in one episode ask for a keyframe once',
      steps: [
        keyAt0,
        'lose',
        'lose',
        { payload: '19 00', ts: 3000, marker: true },
        sliceAt(6000),
        { ...keyAt0, ts: 9000 },
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', frame(9000, true, keyAnnexB)],
      stats: { droppedFrames: 2, malformedPackets: 1 },
    },
    {
      name: 'a loss before anything was received asks for a keyframe',
      steps: ['lose'],
      seen: ['keyframe-needed'],
      stats: { droppedFrames: 0 },
    },
  ]);
});

/** Each malformed form, in the access unit at 3000 between a keyframe and a slice that must then wait. */
const malformedForms: { name: string; packets: string[] }[] = [
  { name: 'STAP-B (25)', packets: ['79 00 02 41 9a'] },
  { name: 'MTAP16 (26)', packets: ['7a 00 00 00 02 00 00 41 9a'] },
  { name: 'MTAP24 (27)', packets: ['7b 00 00 00 02 00 00 00 41 9a'] },
  { name: 'FU-B (29)', packets: ['7d 81 00 00 9a'] },
  { name: 'STAP-A whose size overruns the payload', packets: ['78 00 09 41 9a'] },
  { name: 'STAP-A with a trailing byte that cannot hold a size', packets: ['78 00 02 41 9a 00'] },
  { name: 'STAP-A with an empty NAL unit', packets: ['78 00 00 00 02 41 9a'] },
  { name: 'STAP-A without NAL units', packets: ['78'] },
  { name: 'STAP-A holding an FU-A', packets: ['78 00 03 7c 85 88'] },
  { name: 'STAP-A holding a type 0 unit', packets: ['78 00 02 00 9a'] },
  { name: 'FU-A without a fragment byte', packets: ['7c 81'] },
  { name: 'FU-A of type 0', packets: ['7c 80 9a'] },
  { name: 'FU-A of an STAP-A (type 24)', packets: ['7c 98 9a'] },
  { name: 'FU-A middle without a start', packets: ['5c 01 9a'] },
  { name: 'FU-A end without a start', packets: ['5c 41 9a'] },
  { name: 'FU-A whose type changes mid-way', packets: ['5c 81 9a', '5c 45 02'] },
  { name: 'FU-A start before the previous FU-A ended', packets: ['5c 81 9a', '5c 81 9a'] },
  { name: 'a single NAL unit before the FU-A ended', packets: ['5c 81 9a', slice] },
  { name: 'an FU-A still open at the marker', packets: ['5c 81 9a', '5c 01 02'] },
];

describe('H264Depacketizer malformed packets are counted, never thrown, and break the access unit', () => {
  check(
    malformedForms.map(({ name, packets }) => ({
      name,
      steps: [
        keyAt0,
        ...packets.map((payload, index) => ({ payload, ts: 3000, marker: index === packets.length - 1 })),
        sliceAt(6000),
        { ...keyAt0, ts: 9000 },
      ],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', frame(9000, true, keyAnnexB)],
      stats: { malformedPackets: 1, droppedFrames: 2, frames: 2 },
    })),
  );
  check([
    {
      name: 'an FU-A left open when the timestamp changes breaks its access unit',
      steps: [keyAt0, { payload: '5c 81 9a', ts: 3000 }, sliceAt(6000), { ...keyAt0, ts: 9000 }],
      seen: [frame(0, true, keyAnnexB), 'keyframe-needed', frame(9000, true, keyAnnexB)],
      stats: { malformedPackets: 1, droppedFrames: 2 },
    },
    ...['00 9a', '7e 9a', '7f 9a'].map((payload) => ({
      name: `reserved type ${Number.parseInt(payload.slice(0, 2), 16) & 0x1f} is ignored (RFC 6184 §5.4), counted, and the access unit survives`,
      steps: [keyAt0, { payload, ts: 3000 }, sliceAt(3000)],
      seen: [frame(0, true, keyAnnexB), frame(3000, false, `${sc} ${slice}`)],
      stats: { malformedPackets: 1, droppedFrames: 0 },
    })),
  ]);

  test('an access unit over maxFrameBytes is malformed and dropped', () => {
    const result = run(new H264Depacketizer({ maxFrameBytes: 24 }), [
      keyAt0,
      { payload: '5c 81 00 01 02 03 04 05 06 07 08 09', ts: 3000 },
      { payload: '5c 41 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d', ts: 3000, marker: true },
    ]);
    assert.deepEqual(result.seen, [frame(0, true, keyAnnexB), 'keyframe-needed']);
    assert.match(result.reasons[0] ?? '', /larger than 24 bytes/);
    assert.equal(result.stats.malformedPackets, 1);
  });

  test('the keyframe-needed reasons say what happened', () => {
    const loss = run(new H264Depacketizer(), [keyAt0, 'lose']);
    assert.deepEqual(loss.reasons, ['packet loss']);
    const stapB = run(new H264Depacketizer(), [keyAt0, { payload: '79 00 02 41 9a', ts: 3000 }]);
    assert.match(stapB.reasons[0] ?? '', /^malformed packet: NAL unit type 25/);
  });
});

const nalBody = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: min, maxLength: max });
const withHeader = (header: number, body: Uint8Array): Uint8Array => Uint8Array.of(header, ...body);
const annexB = (units: readonly Uint8Array[]): Uint8Array =>
  Uint8Array.from(units.flatMap((unit) => [0, 0, 0, 1, ...unit]));

describe('H264Depacketizer properties', () => {
  test('SPS, PPS and IDR of random sizes in FU-A fragments of random sizes come back as exact Annex-B', () => {
    const nalUnit = (type: number, maxBody: number) =>
      fc
        .tuple(fc.integer({ min: 0, max: 3 }), nalBody(2, maxBody))
        .map(([nri, body]) => withHeader((nri << 5) | type, body));
    fc.assert(
      fc.property(
        fc.tuple(nalUnit(7, 40), nalUnit(8, 12), nalUnit(5, 5000)),
        fc.array(fc.integer({ min: 1, max: 1400 }), { minLength: 1, maxLength: 8 }),
        (units, sizes) => {
          const payloads = units.flatMap((unit) =>
            fuA(
              unit,
              sizes.map((size) => Math.min(size, unit.length - 2)),
            ),
          );
          const steps = payloads.map((payload, index) => ({
            payload,
            ts: 90000,
            marker: index === payloads.length - 1,
          }));
          const result = run(new H264Depacketizer(), steps);
          assert.deepEqual(result.seen, [{ ts: 90000, key: true, data: toHex(annexB(units)) }]);
          assert.equal(result.stats.malformedPackets, 0);
        },
      ),
      { seed: 6184, numRuns: 200 },
    );
  });

  test('random payloads never throw, never change the input, and keep the counters consistent', () => {
    const nalHeaders = [
      0x00, 0x05, 0x07, 0x08, 0x09, 0x41, 0x65, 0x67, 0x68, 0x78, 0x79, 0x7c, 0x7d, 0x7e, 0x5c,
    ];
    fc.assert(
      fc.property(arbitrarySteps(nalHeaders), (steps) => {
        checkCounters(new H264Depacketizer(), steps);
      }),
      { seed: 6185, numRuns: 500 },
    );
  });

  test('with random loss, no emitted access unit holds bytes of one that lost a packet', () => {
    const accessUnit = fc.record({
      isKeyframe: fc.boolean(),
      sps: nalBody(3, 24),
      pps: nalBody(1, 8),
      slices: fc.array(nalBody(1, 700), { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(accessUnit, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 12, max: 400 }),
        fc.boolean(),
        fc.array(fc.nat(9), { minLength: 1, maxLength: 64 }),
        (units, mtu, aggregate, lossPattern) => {
          const toFrame = (unit: (typeof units)[number], index: number): ModelFrame => {
            const nalUnits = unit.isKeyframe
              ? [
                  withHeader(0x67, unit.sps),
                  withHeader(0x68, unit.pps),
                  ...unit.slices.map((body) => withHeader(0x65, body)),
                ]
              : unit.slices.map((body) => withHeader(0x41, body));
            const ts = 3000 * index;
            return {
              ts,
              isKeyframe: unit.isKeyframe,
              expected: annexB(nalUnits),
              packets: packetizeH264(nalUnits, mtu, aggregate),
            };
          };
          const frames = units.map(toFrame);
          const sentinel = toFrame(
            { isKeyframe: true, sps: hex('42 00 1f'), pps: hex('ce'), slices: [hex('88 84')] },
            units.length,
          );
          checkLossModel(
            new H264Depacketizer(),
            frames,
            sentinel,
            (index) => lossPattern[index % lossPattern.length] === 0,
          );
        },
      ),
      { seed: 6186, numRuns: 300 },
    );
  });
});
