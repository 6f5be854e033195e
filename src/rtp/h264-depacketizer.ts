/**
 * H.264 access units out of RTP (RFC 6184, packetization modes 0 and 1): single NAL unit packets (§5.6),
 * STAP-A (§5.7.1) and FU-A (§5.8), in, Annex-B access units with 4-byte start codes out.
 *
 * An access unit is the packets of one RTP timestamp (§5.1: "the RTP timestamp is set to the sampling
 * timestamp of the content", one per access unit); it ends at the marker bit (§5.1) or, as the marker is only
 * a hint ("decoders ... MUST NOT rely on this property"), when the timestamp changes.
 *
 * Loss and breakage follow KeyframeGate: a broken access unit is never handed on, later ones wait for the
 * next IDR, and a keyframe is asked for once per episode.
 *
 * Limitations: only the latest SPS and PPS are kept (streams with several parameter set ids, which WebRTC
 * senders do not use, would get the wrong one inserted); out-of-band parameter sets (sprop-parameter-sets in
 * the SDP) are not read, so a sender that never sends SPS/PPS in band is never decodable here.
 */
import { toAnnexB, keepParameterSets, type ParameterSets } from './h264-access-unit.ts';
import { beginsAccessUnit, carriesIdr, parseH264Payload, type H264Payload } from './h264-payload.ts';
import type { Depacketizer, DepacketizerOutput, DepacketizerStats } from './encoded-frame.ts';
import {
  concatBytes,
  defaultMaxFrameBytes,
  emptyDepacketizerStats,
  type DepacketizerOptions,
} from './depacketizer-common.ts';
import { KeyframeGate } from './keyframe-gate.ts';

interface AccessUnit {
  rtpTime: number;
  /** Copies of its complete NAL units, in order. */
  nalUnits: Uint8Array[];
  bytes: number;
  /** A packet of it was lost or malformed: it is dropped at its end. */
  isBroken: boolean;
  /** It began right after a loss (or at the start) with a packet that may not be its first. */
  mayLackHead: boolean;
  /** It carries (part of) an IDR slice, whether or not its bytes are kept. */
  hasIdr: boolean;
}

/** An FU-A NAL unit being reassembled: its reconstructed header first, then copies of the fragments. */
interface OpenFragment {
  nalType: number;
  chunks: Uint8Array[];
  bytes: number;
}

export class H264Depacketizer implements Depacketizer {
  readonly codec = 'H264';
  readonly #stats = emptyDepacketizerStats();
  readonly #gate = new KeyframeGate(this.#stats);
  readonly #parameterSets: ParameterSets = { sps: undefined, pps: undefined };
  readonly #maxFrameBytes: number;
  #accessUnit: AccessUnit | undefined;
  #fragment: OpenFragment | undefined;
  /** The next packet follows a loss, or is the first one: it may be in the middle of an access unit. */
  #isAfterGap = true;

  constructor(options: DepacketizerOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? defaultMaxFrameBytes;
  }

  push(payload: Uint8Array, rtpTime: number, marker: boolean): DepacketizerOutput[] {
    this.#stats.packets += 1;
    const out: DepacketizerOutput[] = [];
    // RFC 3550 §5.1: a padding-only packet (libwebrtc sends them on the media SSRC to probe bandwidth when
    // RTX is not negotiated) carries no NAL unit and no timing: it must not end or start an access unit.
    if (payload.length === 0) return out;
    const parsed = parseH264Payload(payload);
    if (this.#accessUnit !== undefined && this.#accessUnit.rtpTime !== rtpTime) this.#finish(out);
    const unit = this.#accessUnit ?? this.#begin(rtpTime, parsed);
    if (carriesIdr(parsed)) unit.hasIdr = true;
    const isKept = !unit.isBroken && !unit.mayLackHead;
    switch (parsed.kind) {
      case 'malformed':
        this.#malformed(unit, parsed.reason, out);
        break;
      case 'ignored':
        this.#stats.malformedPackets += 1;
        break;
      case 'nal-units':
        if (isKept) this.#addNalUnits(unit, parsed.nalUnits, out);
        break;
      case 'fragment':
        if (isKept) this.#addFragment(unit, parsed, out);
        break;
    }
    this.#isAfterGap = false;
    if (marker) this.#finish(out);
    return out;
  }

  lose(): DepacketizerOutput[] {
    const out: DepacketizerOutput[] = [];
    if (this.#accessUnit === undefined) this.#gate.fail('packet loss', out);
    else this.#break(this.#accessUnit, 'packet loss', out);
    this.#isAfterGap = true;
    return out;
  }

  stats(): DepacketizerStats {
    return { ...this.#stats };
  }

  #begin(rtpTime: number, first: H264Payload): AccessUnit {
    const unit: AccessUnit = {
      rtpTime,
      nalUnits: [],
      bytes: 0,
      isBroken: false,
      mayLackHead: this.#isAfterGap && !beginsAccessUnit(first),
      hasIdr: false,
    };
    this.#accessUnit = unit;
    return unit;
  }

  #addNalUnits(unit: AccessUnit, nalUnits: readonly Uint8Array[], out: DepacketizerOutput[]): void {
    if (this.#fragment !== undefined) {
      this.#malformed(unit, 'FU-A unfinished before the next NAL unit', out);
      return;
    }
    for (const nalUnit of nalUnits) {
      if (!this.#fits(unit, nalUnit.length, out)) return;
      unit.nalUnits.push(nalUnit.slice());
      unit.bytes += nalUnit.length;
    }
  }

  #addFragment(
    unit: AccessUnit,
    fragment: Extract<H264Payload, { kind: 'fragment' }>,
    out: DepacketizerOutput[],
  ): void {
    let open = this.#fragment;
    if (fragment.isStart) {
      if (open !== undefined) {
        this.#malformed(unit, 'FU-A start before the previous FU-A ended', out);
        return;
      }
      open = { nalType: fragment.nalType, chunks: [Uint8Array.of(fragment.nalHeader)], bytes: 1 };
      this.#fragment = open;
    } else if (open === undefined) {
      this.#malformed(unit, 'FU-A fragment without a start', out);
      return;
    } else if (open.nalType !== fragment.nalType) {
      this.#malformed(unit, `FU-A type changed from ${open.nalType} to ${fragment.nalType}`, out);
      return;
    }
    if (!this.#fits(unit, open.bytes + fragment.data.length, out)) return;
    open.chunks.push(fragment.data.slice());
    open.bytes += fragment.data.length;
    if (fragment.isEnd) {
      this.#fragment = undefined;
      unit.nalUnits.push(concatBytes(open.chunks, open.bytes));
      unit.bytes += open.bytes;
    }
  }

  /** Ends the access unit in progress: hands it on, or drops it. */
  #finish(out: DepacketizerOutput[]): void {
    const unit = this.#accessUnit;
    if (unit === undefined) return;
    if (this.#fragment !== undefined)
      this.#malformed(unit, 'FU-A unfinished at the end of the access unit', out);
    this.#accessUnit = undefined;
    if (unit.isBroken) {
      this.#gate.drop('broken access unit', out);
    } else if (unit.mayLackHead) {
      if (unit.hasIdr)
        this.#gate.dropKeyframe('IDR access unit may lack its first packets (after a loss)', out);
      else this.#gate.drop('waiting for a keyframe', out);
    } else if (unit.nalUnits.length > 0) {
      keepParameterSets(unit.nalUnits, this.#parameterSets);
      const annexB = toAnnexB(unit.nalUnits, this.#parameterSets);
      if (!annexB.isDecodable) {
        this.#gate.dropKeyframe('IDR access unit before any SPS/PPS', out);
        return;
      }
      const frame = {
        kind: 'video',
        codec: 'H264',
        keyframe: annexB.hasIdr,
        data: annexB.data,
        rtpTime: unit.rtpTime,
        timescale: 90000,
      } as const;
      this.#gate.offer(frame, out);
    }
  }

  /** Checks the bound before keeping `extraBytes` more; breaks the access unit when it would overflow. */
  #fits(unit: AccessUnit, extraBytes: number, out: DepacketizerOutput[]): boolean {
    if (unit.bytes + extraBytes <= this.#maxFrameBytes) return true;
    this.#malformed(unit, `access unit larger than ${this.#maxFrameBytes} bytes`, out);
    return false;
  }

  #malformed(unit: AccessUnit, reason: string, out: DepacketizerOutput[]): void {
    this.#stats.malformedPackets += 1;
    this.#break(unit, `malformed packet: ${reason}`, out);
  }

  #break(unit: AccessUnit, reason: string, out: DepacketizerOutput[]): void {
    unit.isBroken = true;
    unit.nalUnits = [];
    this.#fragment = undefined;
    this.#gate.fail(reason, out);
  }
}
