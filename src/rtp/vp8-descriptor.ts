/**
 * The VP8 payload descriptor (RFC 7741 §4.2) and the start of the VP8 payload header (§4.3), parsed with a
 * bounds check before every read. The input is never modified; `payloadOffset` says where the VP8 payload
 * begins.
 *
 *      0 1 2 3 4 5 6 7
 *     +-+-+-+-+-+-+-+-+
 *     |X|R|N|S|R| PID | (REQUIRED)
 *     +-+-+-+-+-+-+-+-+
 * X:  |I|L|T|K| RSV   | (OPTIONAL)
 *     +-+-+-+-+-+-+-+-+
 * I:  |M| PictureID   | (OPTIONAL)
 *     +-+-+-+-+-+-+-+-+
 *     |   PictureID   | (when M: 15 bits)
 *     +-+-+-+-+-+-+-+-+
 * L:  |   TL0PICIDX   | (OPTIONAL)
 *     +-+-+-+-+-+-+-+-+
 * T/K:|TID|Y| KEYIDX  | (OPTIONAL)
 *     +-+-+-+-+-+-+-+-+
 */

export interface Vp8Descriptor {
  /** N: the frame is not used as a reference. */
  isNonReference: boolean;
  /** S: the packet starts a VP8 partition. */
  isPartitionStart: boolean;
  /** PID: the partition index (0-7). */
  partitionId: number;
  /** 7- or 15-bit picture id, when I is set. */
  pictureId: number | undefined;
  tl0PicIdx: number | undefined;
  /** TID (when T) and Y (layer sync) (when T); KEYIDX (when K). */
  temporalLayerId: number | undefined;
  isLayerSync: boolean | undefined;
  keyIndex: number | undefined;
  /** Where the VP8 payload starts. */
  payloadOffset: number;
}

export type Vp8DescriptorResult =
  { kind: 'descriptor'; descriptor: Vp8Descriptor } | { kind: 'malformed'; reason: string };

export function parseVp8Descriptor(payload: Uint8Array): Vp8DescriptorResult {
  const first = payload[0];
  if (first === undefined) return malformed('empty payload');
  const descriptor: Vp8Descriptor = {
    isNonReference: (first & 0x20) !== 0,
    isPartitionStart: (first & 0x10) !== 0,
    partitionId: first & 0x07,
    pictureId: undefined,
    tl0PicIdx: undefined,
    temporalLayerId: undefined,
    isLayerSync: undefined,
    keyIndex: undefined,
    payloadOffset: 1,
  };
  if ((first & 0x80) === 0) return { kind: 'descriptor', descriptor };
  const extension = payload[1];
  if (extension === undefined) return malformed('X set but the extension byte is missing');
  let offset = 2;
  if ((extension & 0x80) !== 0) {
    const high = payload[offset];
    if (high === undefined) return malformed('I set but the PictureID is missing');
    if ((high & 0x80) !== 0) {
      const low = payload[offset + 1];
      if (low === undefined) return malformed('M set but the second PictureID byte is missing');
      descriptor.pictureId = ((high & 0x7f) << 8) | low;
      offset += 2;
    } else {
      descriptor.pictureId = high;
      offset += 1;
    }
  }
  if ((extension & 0x40) !== 0) {
    const tl0PicIdx = payload[offset];
    if (tl0PicIdx === undefined) return malformed('L set but TL0PICIDX is missing');
    descriptor.tl0PicIdx = tl0PicIdx;
    offset += 1;
  }
  const hasTid = (extension & 0x20) !== 0;
  const hasKeyIdx = (extension & 0x10) !== 0;
  if (hasTid || hasKeyIdx) {
    const layer = payload[offset];
    if (layer === undefined) return malformed('T or K set but the TID/Y/KEYIDX byte is missing');
    if (hasTid) {
      descriptor.temporalLayerId = layer >> 6;
      descriptor.isLayerSync = (layer & 0x20) !== 0;
    }
    if (hasKeyIdx) descriptor.keyIndex = layer & 0x1f;
    offset += 1;
  }
  descriptor.payloadOffset = offset;
  return { kind: 'descriptor', descriptor };
}

/**
 * The VP8 payload header that begins a frame (RFC 7741 §4.3, RFC 6386 §9.1): 3 bytes whose lowest bit P is 0
 * for a key frame, which continues with the start code 9d 01 2a and 4 bytes of dimensions (10 bytes in all).
 */
export type Vp8FrameHeader = { kind: 'header'; isKeyframe: boolean } | { kind: 'malformed'; reason: string };

export function parseVp8FrameHeader(vp8Payload: Uint8Array): Vp8FrameHeader {
  const first = vp8Payload[0];
  if (first === undefined || vp8Payload.length < 3) {
    return malformed(`frame starts with ${vp8Payload.length} bytes, shorter than the 3-byte payload header`);
  }
  if ((first & 0x01) !== 0) return { kind: 'header', isKeyframe: false };
  if (vp8Payload.length < 10) {
    return malformed(`key frame starts with ${vp8Payload.length} bytes, shorter than its 10-byte header`);
  }
  if (vp8Payload[3] !== 0x9d || vp8Payload[4] !== 0x01 || vp8Payload[5] !== 0x2a) {
    return malformed('key frame without the start code 9d 01 2a');
  }
  return { kind: 'header', isKeyframe: true };
}

function malformed(reason: string): { kind: 'malformed'; reason: string } {
  return { kind: 'malformed', reason };
}
