/**
 * RTCP Sender Reports (RFC 3550 §6.4.1) out of a compound RTCP packet. Other packet types are skipped by their
 * length; a packet that overruns the buffer ends the walk with a ParseError.
 */
import { ParseError } from './parse-error.ts';

export interface SenderReport {
  ssrc: number;
  /** NTP timestamp, whole seconds (since 1900, wrapping in 2036). */
  ntpSeconds: number;
  /** NTP timestamp, fraction of a second in units of 2^-32. */
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

const senderReportType = 200;

export function parseSenderReports(bytes: Uint8Array): SenderReport[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reports: SenderReport[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const first = view.getUint8(offset);
    if (first >> 6 !== 2) throw new ParseError(`RTCP version ${first >> 6}, expected 2`, offset);
    const type = view.getUint8(offset + 1);
    const length = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + length > bytes.length) throw new ParseError('RTCP packet runs past the buffer', offset);
    if (type === senderReportType) {
      if (length < 28) throw new ParseError('sender report shorter than 28 bytes', offset);
      reports.push({
        ssrc: view.getUint32(offset + 4),
        ntpSeconds: view.getUint32(offset + 8),
        ntpFraction: view.getUint32(offset + 12),
        rtpTimestamp: view.getUint32(offset + 16),
        packetCount: view.getUint32(offset + 20),
        octetCount: view.getUint32(offset + 24),
      });
    }
    offset += length;
  }
  return reports;
}

/** Serialises one sender report without report blocks (fixtures, tests). */
export function serializeSenderReport(report: SenderReport): Uint8Array {
  const out = new Uint8Array(28);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0x80);
  view.setUint8(1, senderReportType);
  view.setUint16(2, 6);
  view.setUint32(4, report.ssrc >>> 0);
  view.setUint32(8, report.ntpSeconds >>> 0);
  view.setUint32(12, report.ntpFraction >>> 0);
  view.setUint32(16, report.rtpTimestamp >>> 0);
  view.setUint32(20, report.packetCount >>> 0);
  view.setUint32(24, report.octetCount >>> 0);
  return out;
}
