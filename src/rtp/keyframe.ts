/**
 * Does this RTP payload start a keyframe? Used to start forwarding video to a new receiver on a picture it can
 * decode. Pure and total: any bytes in, a boolean out, never a throw.
 */

export type VideoCodecName = 'H264' | 'VP8' | 'VP9';

const h264Idr = 5;
const h264Sps = 7;
const h264StapA = 24;
const h264FuA = 28;

/** RFC 6184 §5.6-5.8: an IDR or SPS as a single NAL unit, inside a STAP-A, or at the start of an FU-A. */
export function isH264KeyframeStart(payload: Uint8Array): boolean {
  const first = payload[0];
  if (first === undefined) return false;
  const type = first & 0x1f;
  if (type === h264Idr || type === h264Sps) return true;
  if (type === h264FuA) {
    const header = payload[1];
    return header !== undefined && (header & 0x80) !== 0 && (header & 0x1f) === h264Idr;
  }
  if (type === h264StapA) {
    let offset = 1;
    while (offset + 2 < payload.length) {
      const size = ((payload[offset] ?? 0) << 8) | (payload[offset + 1] ?? 0);
      const nal = payload[offset + 2];
      if (size === 0 || nal === undefined) return false;
      const nalType = nal & 0x1f;
      if (nalType === h264Idr || nalType === h264Sps) return true;
      offset += 2 + size;
    }
  }
  return false;
}

/** RFC 7741 §4.2-4.3: the first packet of a partition 0 whose VP8 header has P (inverse key frame flag) = 0. */
export function isVp8KeyframeStart(payload: Uint8Array): boolean {
  const descriptor = payload[0];
  if (descriptor === undefined) return false;
  const startOfPartition = (descriptor & 0x10) !== 0;
  const partitionId = descriptor & 0x07;
  if (!startOfPartition || partitionId !== 0) return false;
  let offset = 1;
  if ((descriptor & 0x80) !== 0) {
    const extension = payload[offset];
    if (extension === undefined) return false;
    offset += 1;
    if ((extension & 0x80) !== 0) {
      const pictureId = payload[offset];
      if (pictureId === undefined) return false;
      offset += (pictureId & 0x80) !== 0 ? 2 : 1;
    }
    if ((extension & 0x40) !== 0) offset += 1;
    if ((extension & 0x30) !== 0) offset += 1;
  }
  const header = payload[offset];
  return header !== undefined && (header & 0x01) === 0;
}

/** VP9 payload descriptor (RFC 9628 §4.2): B (start of frame) set and P (inter-picture predicted) clear. */
export function isVp9KeyframeStart(payload: Uint8Array): boolean {
  const descriptor = payload[0];
  if (descriptor === undefined) return false;
  const interPredicted = (descriptor & 0x40) !== 0;
  const startOfFrame = (descriptor & 0x08) !== 0;
  return startOfFrame && !interPredicted;
}

export function isKeyframeStart(codec: VideoCodecName, payload: Uint8Array): boolean {
  switch (codec) {
    case 'H264':
      return isH264KeyframeStart(payload);
    case 'VP8':
      return isVp8KeyframeStart(payload);
    case 'VP9':
      return isVp9KeyframeStart(payload);
  }
}
