/**
 * The VP9 payload descriptor (RFC 9628 §4.2), parsed with a bounds check before every read; the scalability
 * structure (§4.2.1) is walked over and summarised. The input is never modified; `payloadOffset` says where
 * the VP9 frame bytes begin.
 *
 *        0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+
 *       |I|P|L|F|B|E|V|Z| (REQUIRED)
 *       +-+-+-+-+-+-+-+-+
 *  I:   |M| PICTURE ID  | (when I; 15 bits when M)
 *  M:   | EXTENDED PID  |
 *       +-+-+-+-+-+-+-+-+
 *  L:   | TID |U| SID |D| (when L)
 *       |   TL0PICIDX   | (when L and not F: non-flexible mode)
 *       +-+-+-+-+-+-+-+-+
 *  P,F: | P_DIFF      |N| (when P and F: flexible mode, up to 3 times)
 *       +-+-+-+-+-+-+-+-+
 *  V:   | SS            | (when V)
 */

export interface Vp9Descriptor {
  /** P: the frame uses inter-picture prediction (not a key frame). */
  isInterPredicted: boolean;
  /** F: flexible mode (references as P_DIFFs) rather than non-flexible (a TL0PICIDX). */
  isFlexible: boolean;
  /** B and E: the packet starts, ends the frame of its layer. */
  isFrameStart: boolean;
  isFrameEnd: boolean;
  /** Z: not used for inter-layer prediction by the next spatial layer. */
  isNotInterLayerReference: boolean;
  pictureId: number | undefined;
  /** From the layer index byte (L); 0 when absent, as for a stream without layers. */
  temporalLayerId: number;
  spatialLayerId: number;
  isSwitchingUp: boolean;
  isInterLayerDependent: boolean;
  tl0PicIdx: number | undefined;
  /** Flexible mode reference differences (P_DIFF), at most 3. */
  pictureDiffs: number[];
  /** From the scalability structure (V), when present. */
  scalability: Vp9Scalability | undefined;
  payloadOffset: number;
}

export interface Vp9Scalability {
  spatialLayerCount: number;
  /** Per spatial layer, when Y is set. */
  resolutions: { width: number; height: number }[];
  /** N_G: pictures in the group description, when G is set. */
  pictureGroupSize: number;
}

export type Vp9DescriptorResult =
  { kind: 'descriptor'; descriptor: Vp9Descriptor } | { kind: 'malformed'; reason: string };
type Malformed = { kind: 'malformed'; reason: string };

export function parseVp9Descriptor(payload: Uint8Array): Vp9DescriptorResult {
  const first = payload[0];
  if (first === undefined) return malformed('empty payload');
  const descriptor: Vp9Descriptor = {
    isInterPredicted: (first & 0x40) !== 0,
    isFlexible: (first & 0x10) !== 0,
    isFrameStart: (first & 0x08) !== 0,
    isFrameEnd: (first & 0x04) !== 0,
    isNotInterLayerReference: (first & 0x01) !== 0,
    pictureId: undefined,
    temporalLayerId: 0,
    spatialLayerId: 0,
    isSwitchingUp: false,
    isInterLayerDependent: false,
    tl0PicIdx: undefined,
    pictureDiffs: [],
    scalability: undefined,
    payloadOffset: 1,
  };
  let offset: number | Malformed = 1;
  if ((first & 0x80) !== 0) offset = readPictureId(payload, offset, descriptor);
  if ((first & 0x20) !== 0 && typeof offset === 'number')
    offset = readLayerIndices(payload, offset, descriptor);
  if (descriptor.isFlexible && descriptor.isInterPredicted && typeof offset === 'number') {
    offset = readPictureDiffs(payload, offset, descriptor);
  }
  if ((first & 0x02) !== 0 && typeof offset === 'number')
    offset = readScalability(payload, offset, descriptor);
  if (typeof offset !== 'number') return offset;
  descriptor.payloadOffset = offset;
  return { kind: 'descriptor', descriptor };
}

/** I: |M| PICTURE ID | and, when M, the low 8 bits of a 15-bit picture id. */
function readPictureId(payload: Uint8Array, offset: number, descriptor: Vp9Descriptor): number | Malformed {
  const high = payload[offset];
  if (high === undefined) return malformed('I set but the PICTURE ID is missing');
  if ((high & 0x80) === 0) {
    descriptor.pictureId = high;
    return offset + 1;
  }
  const low = payload[offset + 1];
  if (low === undefined) return malformed('M set but the EXTENDED PID byte is missing');
  descriptor.pictureId = ((high & 0x7f) << 8) | low;
  return offset + 2;
}

/** L: | TID |U| SID |D|, then TL0PICIDX in non-flexible mode. */
function readLayerIndices(
  payload: Uint8Array,
  offset: number,
  descriptor: Vp9Descriptor,
): number | Malformed {
  const layer = payload[offset];
  if (layer === undefined) return malformed('L set but the layer index byte is missing');
  descriptor.temporalLayerId = layer >> 5;
  descriptor.isSwitchingUp = (layer & 0x10) !== 0;
  descriptor.spatialLayerId = (layer >> 1) & 0x07;
  descriptor.isInterLayerDependent = (layer & 0x01) !== 0;
  if (descriptor.isFlexible) return offset + 1;
  const tl0PicIdx = payload[offset + 1];
  if (tl0PicIdx === undefined) return malformed('L set in non-flexible mode but TL0PICIDX is missing');
  descriptor.tl0PicIdx = tl0PicIdx;
  return offset + 2;
}

/** P,F: | P_DIFF |N|, repeated while N is set; §4.2 allows at most 3 reference pictures. */
function readPictureDiffs(
  payload: Uint8Array,
  offset: number,
  descriptor: Vp9Descriptor,
): number | Malformed {
  for (let index = 0; index < 3; index += 1) {
    const diff = payload[offset + index];
    if (diff === undefined) return malformed('P and F set but a P_DIFF byte is missing');
    descriptor.pictureDiffs.push(diff >> 1);
    if ((diff & 0x01) === 0) return offset + index + 1;
  }
  return malformed('more than 3 P_DIFF bytes');
}

/**
 * §4.2.1 scalability structure: | N_S |Y|G|-|-|-|; when Y, N_S+1 pairs of 16-bit width and height; when G,
 * N_G and per picture | T |U| R |-|-| followed by R P_DIFF bytes.
 */
function readScalability(payload: Uint8Array, offset: number, descriptor: Vp9Descriptor): number | Malformed {
  const header = payload[offset];
  if (header === undefined) return malformed('V set but the scalability structure is missing');
  const spatialLayerCount = (header >> 5) + 1;
  const scalability: Vp9Scalability = { spatialLayerCount, resolutions: [], pictureGroupSize: 0 };
  let at = offset + 1;
  if ((header & 0x10) !== 0) {
    if (at + spatialLayerCount * 4 > payload.length) return malformed('SS resolutions run past the payload');
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    for (let layer = 0; layer < spatialLayerCount; layer += 1) {
      scalability.resolutions.push({ width: view.getUint16(at), height: view.getUint16(at + 2) });
      at += 4;
    }
  }
  if ((header & 0x08) !== 0) {
    const groupSize = payload[at];
    if (groupSize === undefined) return malformed('SS has G set but N_G is missing');
    scalability.pictureGroupSize = groupSize;
    at += 1;
    for (let picture = 0; picture < groupSize; picture += 1) {
      const pictureHeader = payload[at];
      if (pictureHeader === undefined) return malformed(`SS picture group entry ${picture} is missing`);
      at += 1 + ((pictureHeader >> 2) & 0x03);
      if (at > payload.length)
        return malformed(`SS picture group entry ${picture} P_DIFFs run past the payload`);
    }
  }
  descriptor.scalability = scalability;
  return at;
}

function malformed(reason: string): Malformed {
  return { kind: 'malformed', reason };
}
