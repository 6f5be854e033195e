/**
 * An intact H.264 access unit turned into the Annex-B byte stream a decoder (ffmpeg) reads: every NAL unit
 * after a 4-byte start code (ITU-T H.264 Annex B.1), with the latest SPS and PPS put in front of an IDR
 * picture that does not carry its own (WebRTC senders may send them once, or only with some IDRs).
 */
import { nalType, typeOf } from './h264-payload.ts';

/** The latest parameter sets seen in an intact access unit. Only one of each is kept (see H264Depacketizer). */
export interface ParameterSets {
  sps: Uint8Array | undefined;
  pps: Uint8Array | undefined;
}

export interface AnnexBAccessUnit {
  data: Uint8Array;
  hasIdr: boolean;
  /** False for an IDR picture with no SPS or PPS, neither in it nor seen before: no decoder can start there. */
  isDecodable: boolean;
}

const startCode = [0, 0, 0, 1] as const;

/** Remembers the last SPS and PPS of these (intact) NAL units. */
export function keepParameterSets(nalUnits: readonly Uint8Array[], sets: ParameterSets): void {
  for (const unit of nalUnits) {
    const type = typeOf(unit[0] ?? 0);
    if (type === nalType.sps) sets.sps = unit;
    else if (type === nalType.pps) sets.pps = unit;
  }
}

export function toAnnexB(nalUnits: readonly Uint8Array[], sets: ParameterSets): AnnexBAccessUnit {
  const units = [...nalUnits];
  const indexOfType = (...types: number[]): number =>
    units.findIndex((unit) => types.includes(typeOf(unit[0] ?? 0)));
  const hasIdr = indexOfType(nalType.idrSlice) >= 0;
  let isDecodable = true;
  if (hasIdr) {
    // H.264 §7.4.1.2.3: parameter sets precede the first VCL NAL unit of the picture; an SPS is put before
    // a PPS of the unit too, because a decoder parses a PPS against its SPS.
    if (indexOfType(nalType.pps) < 0) {
      if (sets.pps === undefined) isDecodable = false;
      else units.splice(indexOfType(nalType.idrSlice), 0, sets.pps);
    }
    if (indexOfType(nalType.sps) < 0) {
      if (sets.sps === undefined) isDecodable = false;
      else units.splice(indexOfType(nalType.pps, nalType.idrSlice), 0, sets.sps);
    }
  }
  let totalBytes = 0;
  for (const unit of units) totalBytes += startCode.length + unit.length;
  const data = new Uint8Array(totalBytes);
  let offset = 0;
  for (const unit of units) {
    data.set(startCode, offset);
    data.set(unit, offset + startCode.length);
    offset += startCode.length + unit.length;
  }
  return { data, hasIdr, isDecodable };
}
