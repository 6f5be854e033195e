/**
 * Opus frames out of RTP (RFC 7587 §4.2: the payload of an RTP packet is exactly one Opus packet). Every
 * payload is one Opus packet (RFC 6716 §3), handed on as one frame at the 48 kHz RTP clock (§4.1) that Opus
 * uses whatever the sampling rate. Every Opus packet can start decoding, so every frame is a keyframe, and a
 * loss needs nothing here: the decoder conceals it (RFC 6716 §4.4).
 */
import type { Depacketizer, DepacketizerOutput, DepacketizerStats } from './encoded-frame.ts';
import { emptyDepacketizerStats } from './depacketizer-common.ts';

export class OpusDepacketizer implements Depacketizer {
  readonly codec = 'opus';
  readonly #stats = emptyDepacketizerStats();

  push(payload: Uint8Array, rtpTime: number, _marker: boolean): DepacketizerOutput[] {
    this.#stats.packets += 1;
    // RFC 6716 §3.4 R1: "Packets are at least one byte."
    if (payload.length === 0) {
      this.#stats.malformedPackets += 1;
      return [];
    }
    this.#stats.frames += 1;
    const frame = {
      kind: 'audio',
      codec: 'opus',
      keyframe: true,
      data: payload.slice(),
      rtpTime,
      timescale: 48000,
    } as const;
    return [{ type: 'frame', frame }];
  }

  lose(): DepacketizerOutput[] {
    return [];
  }

  stats(): DepacketizerStats {
    return { ...this.#stats };
  }
}
