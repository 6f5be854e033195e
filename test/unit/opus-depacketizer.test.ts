/**
 * OpusDepacketizer (RFC 7587): one RTP payload is one Opus packet is one frame at 48 kHz; an empty payload is
 * malformed; a loss needs nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { DepacketizerStats } from '../../src/rtp/encoded-frame.ts';
import { OpusDepacketizer } from '../../src/rtp/opus-depacketizer.ts';
import { frame, run, type Seen, type Step } from '../helpers/depacketizer-harness.ts';

const cases: { name: string; steps: Step[]; seen: Seen[]; stats: DepacketizerStats }[] = [
  {
    name: 'a 20 ms CELT fullband packet (TOC fc) is one keyframe at its RTP time',
    steps: [{ payload: 'fc ff fe', ts: 48000 }],
    seen: [frame(48000, true, 'fc ff fe')],
    stats: { packets: 1, frames: 1, malformedPackets: 0, droppedFrames: 0 },
  },
  {
    name: 'a one-byte packet (DTX, TOC only) is a frame too',
    steps: [{ payload: '78', ts: 960 }],
    seen: [frame(960, true, '78')],
    stats: { packets: 1, frames: 1, malformedPackets: 0, droppedFrames: 0 },
  },
  {
    name: 'the marker changes nothing; every packet is its own frame',
    steps: [
      { payload: '78 01', ts: 0, marker: true },
      { payload: '78 02', ts: 960 },
      { payload: '78 03', ts: 960 },
    ],
    seen: [frame(0, true, '78 01'), frame(960, true, '78 02'), frame(960, true, '78 03')],
    stats: { packets: 3, frames: 3, malformedPackets: 0, droppedFrames: 0 },
  },
  {
    name: 'an empty payload is malformed: counted, no frame',
    steps: [
      { payload: '', ts: 0 },
      { payload: '78 01', ts: 960 },
    ],
    seen: [frame(960, true, '78 01')],
    stats: { packets: 2, frames: 1, malformedPackets: 1, droppedFrames: 0 },
  },
  {
    name: 'a loss asks for nothing and drops nothing: the decoder conceals it',
    steps: [{ payload: '78 01', ts: 0 }, 'lose', 'lose', { payload: '78 03', ts: 1920 }],
    seen: [frame(0, true, '78 01'), frame(1920, true, '78 03')],
    stats: { packets: 2, frames: 2, malformedPackets: 0, droppedFrames: 0 },
  },
];

describe('OpusDepacketizer', () => {
  for (const { name, steps, seen, stats } of cases) {
    test(name, () => {
      const result = run(new OpusDepacketizer(), steps);
      assert.deepEqual(result.seen, seen);
      assert.deepEqual(result.stats, stats);
    });
  }

  test('the frame keeps a copy: changing the caller buffer afterwards does not change it', () => {
    const payload = Uint8Array.of(0x78, 0x01, 0x02);
    const [output] = new OpusDepacketizer().push(payload, 0, false);
    payload.fill(0);
    assert.equal(output?.type, 'frame');
    assert.deepEqual(output.frame.data, Uint8Array.of(0x78, 0x01, 0x02));
  });

  test('random payloads never throw, never change the input, and every non-empty one is a frame', () => {
    const step = fc.oneof(
      fc.constant<Step>('lose'),
      fc.record({ payload: fc.uint8Array({ maxLength: 40 }), ts: fc.nat(), marker: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const packets = steps.filter((item) => item !== 'lose');
        const result = run(new OpusDepacketizer(), steps);
        const nonEmpty = packets.filter((packet) => packet.payload.length > 0).length;
        assert.deepEqual(result.stats, {
          packets: packets.length,
          frames: nonEmpty,
          malformedPackets: packets.length - nonEmpty,
          droppedFrames: 0,
        });
      }),
      { seed: 7587, numRuns: 300 },
    );
  });
});
