/**
 * RTP fixed header (RFC 3550 §5.1), with CSRCs, the header extension (§5.3.1) and padding (§5.1 P bit)
 * skipped over. The payload is a view into the input; the input is never modified.
 */
import { ParseError } from './parse-error.ts';

export interface RtpPacket {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
  payload: Uint8Array;
}

export function parseRtpPacket(bytes: Uint8Array): RtpPacket {
  if (bytes.length < 12) throw new ParseError('RTP packet shorter than its 12-byte header', bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint8(0);
  if (first >> 6 !== 2) throw new ParseError(`RTP version ${first >> 6}, expected 2`, 0);
  const hasPadding = (first & 0x20) !== 0;
  const hasExtension = (first & 0x10) !== 0;
  const csrcCount = first & 0x0f;
  const second = view.getUint8(1);
  let offset = 12 + csrcCount * 4;
  if (offset > bytes.length) throw new ParseError('CSRC list runs past the packet', 12);
  if (hasExtension) {
    if (offset + 4 > bytes.length) throw new ParseError('header extension runs past the packet', offset);
    const words = view.getUint16(offset + 2);
    offset += 4 + words * 4;
    if (offset > bytes.length) throw new ParseError('header extension runs past the packet', offset);
  }
  let end = bytes.length;
  if (hasPadding) {
    const padding = view.getUint8(bytes.length - 1);
    if (padding === 0 || end - padding < offset) throw new ParseError('bad padding length', bytes.length - 1);
    end -= padding;
  }
  return {
    payloadType: second & 0x7f,
    marker: (second & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: bytes.subarray(offset, end),
  };
}

/** Serialises a packet without CSRCs or extensions (for tests, fixtures and benchmarks). */
export function serializeRtpPacket(packet: RtpPacket): Uint8Array {
  const out = new Uint8Array(12 + packet.payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0x80);
  view.setUint8(1, (packet.marker ? 0x80 : 0) | (packet.payloadType & 0x7f));
  view.setUint16(2, packet.sequenceNumber & 0xffff);
  view.setUint32(4, packet.timestamp >>> 0);
  view.setUint32(8, packet.ssrc >>> 0);
  out.set(packet.payload, 12);
  return out;
}
