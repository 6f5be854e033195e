/** The depacketizer for a negotiated codec. */
import type { Codec, Depacketizer } from './encoded-frame.ts';
import { H264Depacketizer } from './h264-depacketizer.ts';
import { OpusDepacketizer } from './opus-depacketizer.ts';
import { Vp8Depacketizer } from './vp8-depacketizer.ts';
import { Vp9Depacketizer } from './vp9-depacketizer.ts';

export function createDepacketizer(codec: Codec): Depacketizer {
  switch (codec) {
    case 'H264':
      return new H264Depacketizer();
    case 'VP8':
      return new Vp8Depacketizer();
    case 'VP9':
      return new Vp9Depacketizer();
    case 'opus':
      return new OpusDepacketizer();
  }
}
