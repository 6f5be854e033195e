/** createDepacketizer picks the depacketizer of a negotiated codec. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDepacketizer } from '../../src/rtp/depacketizer.ts';
import type { Codec } from '../../src/rtp/encoded-frame.ts';
import { H264Depacketizer } from '../../src/rtp/h264-depacketizer.ts';
import { OpusDepacketizer } from '../../src/rtp/opus-depacketizer.ts';
import { Vp8Depacketizer } from '../../src/rtp/vp8-depacketizer.ts';
import { Vp9Depacketizer } from '../../src/rtp/vp9-depacketizer.ts';

const expected: [Codec, new () => unknown][] = [
  ['H264', H264Depacketizer],
  ['VP8', Vp8Depacketizer],
  ['VP9', Vp9Depacketizer],
  ['opus', OpusDepacketizer],
];

for (const [codec, type] of expected) {
  test(`createDepacketizer('${codec}') gives a fresh ${type.name} for that codec`, () => {
    const depacketizer = createDepacketizer(codec);
    assert.ok(depacketizer instanceof type);
    assert.equal(depacketizer.codec, codec);
    assert.notEqual(createDepacketizer(codec), depacketizer);
    assert.deepEqual(depacketizer.stats(), { packets: 0, frames: 0, malformedPackets: 0, droppedFrames: 0 });
  });
}
