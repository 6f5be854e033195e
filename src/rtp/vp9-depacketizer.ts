/**
 * VP9 frames out of RTP (RFC 9628 §4): the payload descriptor (§4.2) is stripped and the payloads of one frame
 * are joined. A frame runs from the packet with B=1 to the one with E=1 (§4.2: B MUST be set on the first
 * packet of a frame and E on its last); the marker bit (§4.1) is set on the last packet of a picture, so a marker
 * without E is malformed. A frame is a key frame when its first packet has P=0 (no inter-picture prediction)
 * on the base spatial layer. Loss and breakage follow KeyframeGate (see FrameAssembler).
 *
 * Limitation: one spatial layer. Packets of spatial layers above the base (SID > 0, from SVC senders) are
 * ignored and each such layer frame is counted in droppedFrames; the base layer decodes on its own. A loss is
 * not attributed to a layer, so a lost enhancement-layer packet also breaks the base layer until a keyframe.
 */
import type { Depacketizer, DepacketizerOutput, DepacketizerStats } from './encoded-frame.ts';
import { emptyDepacketizerStats, type DepacketizerOptions } from './depacketizer-common.ts';
import { FrameAssembler, type FramePart } from './frame-assembler.ts';
import { parseVp9Descriptor } from './vp9-descriptor.ts';

export class Vp9Depacketizer implements Depacketizer {
  readonly codec = 'VP9';
  readonly #stats = emptyDepacketizerStats();
  readonly #assembler: FrameAssembler;

  constructor(options: DepacketizerOptions = {}) {
    this.#assembler = new FrameAssembler('VP9', this.#stats, options);
  }

  push(payload: Uint8Array, rtpTime: number, marker: boolean): DepacketizerOutput[] {
    this.#stats.packets += 1;
    const out: DepacketizerOutput[] = [];
    // RFC 3550 §5.1: a padding-only packet has no descriptor and no timing; it must not touch the frame.
    if (payload.length === 0) return out;
    const parsed = parseVp9Descriptor(payload);
    if (parsed.kind === 'malformed') {
      this.#assembler.push(parsed, rtpTime, marker, out);
      return out;
    }
    const { descriptor } = parsed;
    if (descriptor.spatialLayerId > 0) {
      if (descriptor.isFrameStart) this.#assembler.skip();
      return out;
    }
    const data = payload.subarray(descriptor.payloadOffset);
    let part: FramePart = {
      kind: 'part',
      isStart: descriptor.isFrameStart,
      isKeyframe: descriptor.isFrameStart && !descriptor.isInterPredicted,
      data,
    };
    if (data.length === 0) part = { kind: 'malformed', reason: 'no VP9 payload after the descriptor' };
    else if (marker && !descriptor.isFrameEnd)
      part = { kind: 'malformed', reason: 'marker set but E is not' };
    this.#assembler.push(part, rtpTime, descriptor.isFrameEnd || marker, out);
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
