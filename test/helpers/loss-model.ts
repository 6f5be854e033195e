/**
 * The loss rule as a model to check a video depacketizer against: frames are fed as packets, some packets are
 * lost (and `lose()` is called before the next delivered one), and what comes out must be exactly what the
 * model says:
 * - a frame that lost a packet is never emitted, nor is any frame after it until a keyframe that lost nothing;
 * - every other frame is emitted, whole and unchanged;
 * - every frame of which some packets arrived but that was not emitted is counted once in droppedFrames;
 * - after every loss a keyframe-needed has been asked for (once per episode) before the next keyframe.
 */
import assert from 'node:assert/strict';
import type { Depacketizer } from '../../src/rtp/encoded-frame.ts';
import { toHex } from './depacketizer-harness.ts';
import type { Packet } from './rtp-packetizers.ts';

export interface ModelFrame {
  ts: number;
  isKeyframe: boolean;
  /** The bytes the depacketizer must emit for it. */
  expected: Uint8Array;
  packets: Packet[];
}

/**
 * Feeds `frames` with the packets whose running index `isLost` picks left out, then a last keyframe that is
 * always delivered (it ends whatever is in progress), and checks the outputs against the model.
 */
export function checkLossModel(
  depacketizer: Depacketizer,
  frames: readonly ModelFrame[],
  sentinel: ModelFrame,
  isLost: (packetIndex: number) => boolean,
): void {
  const emitted: { ts: number; key: boolean; data: string }[] = [];
  const expected: typeof emitted = [];
  let expectedDropped = 0;
  let isChainIntact = false;
  let hasRequest = false;
  let isLossPending = false;
  let packetIndex = 0;
  const feed = (frame: ModelFrame, canLose: boolean): void => {
    let delivered = 0;
    for (const packet of frame.packets) {
      if (canLose && isLost(packetIndex++)) {
        isLossPending = true;
        continue;
      }
      if (isLossPending) {
        isLossPending = false;
        for (const output of depacketizer.lose()) if (output.type === 'keyframe-needed') hasRequest = true;
        assert.ok(hasRequest, 'a loss is followed by a keyframe-needed in its episode');
      }
      delivered += 1;
      for (const output of depacketizer.push(packet.payload, frame.ts, packet.marker)) {
        if (output.type === 'keyframe-needed') {
          hasRequest = true;
          continue;
        }
        const { rtpTime, keyframe, data } = output.frame;
        if (keyframe) hasRequest = false;
        emitted.push({ ts: rtpTime, key: keyframe, data: toHex(data) });
      }
    }
    const isWhole = delivered === frame.packets.length;
    isChainIntact = isWhole && (frame.isKeyframe || isChainIntact);
    if (isChainIntact) expected.push({ ts: frame.ts, key: frame.isKeyframe, data: toHex(frame.expected) });
    else if (delivered > 0) expectedDropped += 1;
  };
  for (const frame of frames) feed(frame, true);
  feed(sentinel, false);
  assert.deepEqual(emitted, expected);
  assert.equal(depacketizer.stats().droppedFrames, expectedDropped);
  assert.equal(depacketizer.stats().malformedPackets, 0);
}
