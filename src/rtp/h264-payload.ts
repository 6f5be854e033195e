/**
 * One H.264 RTP payload (RFC 6184, packetization modes 0 and 1), parsed on its own without any state:
 * a single NAL unit (§5.6), an STAP-A (§5.7.1) or an FU-A fragment (§5.8). The NAL units and the fragment
 * are views into the input; nothing is copied and the input is never modified.
 */

export const nalType = {
  idrSlice: 5,
  sps: 7,
  pps: 8,
  accessUnitDelimiter: 9,
  stapA: 24,
  fuA: 28,
} as const;

export type H264Payload =
  /** Whole NAL units: a single NAL unit packet or the units of an STAP-A. */
  | { kind: 'nal-units'; nalUnits: Uint8Array[] }
  /** An FU-A fragment; `nalHeader` is the reconstructed header of the fragmented NAL unit. */
  | {
      kind: 'fragment';
      isStart: boolean;
      isEnd: boolean;
      nalHeader: number;
      nalType: number;
      data: Uint8Array;
    }
  /**
   * RFC 6184 §5.4 Table 3: types 0, 30 and 31 are "ig" (ignore) in every packetization mode. They carry
   * nothing for the decoder, so they are dropped (and counted) without breaking the access unit.
   */
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

/** The NAL unit type of a NAL unit header byte (RFC 6184 §5.3). */
export function typeOf(header: number): number {
  return header & 0x1f;
}

export function parseH264Payload(payload: Uint8Array): H264Payload {
  const header = payload[0];
  if (header === undefined) return { kind: 'malformed', reason: 'empty payload' };
  const type = typeOf(header);
  if (type >= 1 && type <= 23) return { kind: 'nal-units', nalUnits: [payload] };
  switch (type) {
    case nalType.stapA:
      return parseStapA(payload);
    case nalType.fuA:
      return parseFuA(payload, header);
    case 0:
    case 30:
    case 31:
      return { kind: 'ignored', reason: `NAL unit type ${type} is reserved (RFC 6184 §5.4: ignore)` };
    default:
      // 25 STAP-B, 26 MTAP16, 27 MTAP24, 29 FU-B: interleaved mode only (RFC 6184 §5.4 Table 3), never
      // negotiated here (we answer packetization-mode 0 or 1).
      return { kind: 'malformed', reason: `NAL unit type ${type} is not allowed in packetization mode 1` };
  }
}

/**
 * RFC 6184 §5.7.1: after the STAP-A header, each unit is a 16-bit size and that many bytes. The sizes must
 * tile the payload exactly. A unit must not be empty, and must be a NAL unit of the stream (types 1-23):
 * an aggregation or fragment packet is not a NAL unit, and nesting them is not defined by §5.7.
 */
function parseStapA(payload: Uint8Array): H264Payload {
  const nalUnits: Uint8Array[] = [];
  let offset = 1;
  while (offset < payload.length) {
    const high = payload[offset];
    const low = payload[offset + 1];
    if (high === undefined || low === undefined) {
      return { kind: 'malformed', reason: `STAP-A size field cut short at byte ${offset}` };
    }
    const size = (high << 8) | low;
    offset += 2;
    if (size === 0)
      return { kind: 'malformed', reason: `STAP-A holds an empty NAL unit at byte ${offset - 2}` };
    if (offset + size > payload.length) {
      return {
        kind: 'malformed',
        reason: `STAP-A unit of ${size} bytes overruns the payload at byte ${offset}`,
      };
    }
    const nalUnit = payload.subarray(offset, offset + size);
    const type = typeOf(nalUnit[0] ?? 0);
    if (type < 1 || type > 23) {
      return { kind: 'malformed', reason: `STAP-A holds a NAL unit of type ${type} at byte ${offset}` };
    }
    nalUnits.push(nalUnit);
    offset += size;
  }
  if (nalUnits.length === 0) return { kind: 'malformed', reason: 'STAP-A without NAL units' };
  return { kind: 'nal-units', nalUnits };
}

/**
 * RFC 6184 §5.8: FU indicator (F, NRI, type 28), FU header (S, E, R, type), then the fragment. The header of
 * the fragmented NAL unit is F and NRI from the indicator with the type from the FU header. Like FFmpeg's
 * rtpdec_h264, a packet without at least one fragment byte is malformed.
 *
 * Departure: §5.8 says S and E "MUST NOT both be set to one in the same FU header". Such a packet is still
 * unambiguous (a whole NAL unit), so it is accepted rather than breaking the picture.
 */
function parseFuA(payload: Uint8Array, indicator: number): H264Payload {
  const fuHeader = payload[1];
  if (fuHeader === undefined || payload.length < 3) {
    return { kind: 'malformed', reason: `FU-A of ${payload.length} bytes has no fragment` };
  }
  const type = typeOf(fuHeader);
  if (type < 1 || type > 23)
    return { kind: 'malformed', reason: `FU-A fragments a NAL unit of type ${type}` };
  return {
    kind: 'fragment',
    isStart: (fuHeader & 0x80) !== 0,
    isEnd: (fuHeader & 0x40) !== 0,
    nalHeader: (indicator & 0xe0) | type,
    nalType: type,
    data: payload.subarray(2),
  };
}

/** Does this payload carry (a part of) an IDR slice? Used for access units whose bytes are not kept. */
export function carriesIdr(payload: H264Payload): boolean {
  if (payload.kind === 'fragment') return payload.nalType === nalType.idrSlice;
  if (payload.kind !== 'nal-units') return false;
  return payload.nalUnits.some((unit) => typeOf(unit[0] ?? 0) === nalType.idrSlice);
}

/**
 * Does this first payload after a loss provably begin an access unit? Only an access unit delimiter (H.264
 * §7.4.1.2.3: when present it is the first NAL unit of an access unit) or an SPS, which libwebrtc, OpenH264
 * and x264 put first in an IDR access unit. Anything else may be the tail of an access unit whose head was
 * lost (an STAP-A with the SPS and PPS, say), so it is not trusted. The cost: a sender that puts no SPS in
 * its IDR access units loses the first IDR after a loss, and a keyframe is asked for again.
 */
export function beginsAccessUnit(payload: H264Payload): boolean {
  let first: number | undefined;
  if (payload.kind === 'nal-units') first = typeOf(payload.nalUnits[0]?.[0] ?? 0);
  else if (payload.kind === 'fragment' && payload.isStart) first = payload.nalType;
  return first === nalType.accessUnitDelimiter || first === nalType.sps;
}
