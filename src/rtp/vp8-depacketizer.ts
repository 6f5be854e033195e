/**
 * VP8 frames out of RTP (RFC 7741 §4): the payload descriptor (§4.2) is stripped and the VP8 payloads of one
 * frame are joined. A frame starts at the packet with S=1 and PID=0 (§4.2: S MUST be set on the first packet
 * of each frame, and partition 0 comes first) and ends at the marker bit (§4.1: set on the last packet of each
 * frame); a timestamp change before the marker leaves the frame unfinished, so it is dropped. A frame is a key frame when the P bit of its
 * payload header (§4.3) is 0. Loss and breakage follow KeyframeGate (see FrameAssembler).
 */
import type { Depacketizer, DepacketizerOutput, DepacketizerStats } from './encoded-frame.ts';
import { emptyDepacketizerStats, type DepacketizerOptions } from './depacketizer-common.ts';
import { FrameAssembler, type FramePart } from './frame-assembler.ts';
import { parseVp8Descriptor, parseVp8FrameHeader } from './vp8-descriptor.ts';

export class Vp8Depacketizer implements Depacketizer {
  readonly codec = 'VP8';
  readonly #stats = emptyDepacketizerStats();
  readonly #assembler: FrameAssembler;

  constructor(options: DepacketizerOptions = {}) {
    this.#assembler = new FrameAssembler('VP8', this.#stats, options);
  }

  push(payload: Uint8Array, rtpTime: number, marker: boolean): DepacketizerOutput[] {
    this.#stats.packets += 1;
    const out: DepacketizerOutput[] = [];
    // RFC 3550 §5.1: a padding-only packet has no descriptor and no timing; it must not touch the frame.
    if (payload.length === 0) return out;
    this.#assembler.push(toFramePart(payload), rtpTime, marker, out);
    return out;
  }

  lose(): DepacketizerOutput[] {
    const out: DepacketizerOutput[] = [];
    this.#assembler.lose(out);
    return out;
  }

  stats(): DepacketizerStats {
    return { ...this.#stats };
  }
}

function toFramePart(payload: Uint8Array): FramePart {
  const parsed = parseVp8Descriptor(payload);
  if (parsed.kind === 'malformed') return parsed;
  const { descriptor } = parsed;
  const data = payload.subarray(descriptor.payloadOffset);
  if (data.length === 0) return { kind: 'malformed', reason: 'no VP8 payload after the descriptor' };
  const isStart = descriptor.isPartitionStart && descriptor.partitionId === 0;
  if (!isStart) return { kind: 'part', isStart, isKeyframe: false, data };
  const header = parseVp8FrameHeader(data);
  if (header.kind === 'malformed') return header;
  return { kind: 'part', isStart, isKeyframe: header.isKeyframe, data };
}
