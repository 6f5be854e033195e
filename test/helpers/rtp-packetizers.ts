/**
 * Small reference packetizers for the depacketizer property tests: H.264 (RFC 6184 single NAL, STAP-A, FU-A),
 * VP8 (RFC 7741) and VP9 (RFC 9628) payloads built the way a sender would, from whole NAL units or frames.
 */
import { chunkSizes } from './depacketizer-harness.ts';

export interface Packet {
  payload: Uint8Array;
  marker: boolean;
}

/** RFC 6184 §5.8: one NAL unit as FU-A fragments whose payload sizes are taken in turn from `sizes`. */
export function fuA(nalUnit: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const header = nalUnit[0] ?? 0;
  const body = nalUnit.subarray(1);
  const parts = chunkSizes(body.length, sizes);
  let offset = 0;
  return parts.map((size, index) => {
    const packet = new Uint8Array(2 + size);
    packet[0] = (header & 0xe0) | 28;
    packet[1] = (index === 0 ? 0x80 : 0) | (index === parts.length - 1 ? 0x40 : 0) | (header & 0x1f);
    packet.set(body.subarray(offset, offset + size), 2);
    offset += size;
    return packet;
  });
}

/** RFC 6184 §5.7.1: NAL units behind a STAP-A header, each with its 16-bit size. */
export function stapA(nalUnits: readonly Uint8Array[]): Uint8Array {
  const total = nalUnits.reduce((sum, unit) => sum + 2 + unit.length, 1);
  const packet = new Uint8Array(total);
  packet[0] = nalUnits.reduce((nri, unit) => Math.max(nri, (unit[0] ?? 0) & 0x60), 0) | 24;
  let offset = 1;
  for (const unit of nalUnits) {
    packet[offset] = unit.length >> 8;
    packet[offset + 1] = unit.length & 0xff;
    packet.set(unit, offset + 2);
    offset += 2 + unit.length;
  }
  return packet;
}

/**
 * An access unit as a WebRTC sender packetizes it: NAL units larger than `mtu` as FU-A, consecutive small ones
 * in an STAP-A when `aggregate`, the rest as single NAL unit packets; the marker on the last packet.
 */
export function packetizeH264(nalUnits: readonly Uint8Array[], mtu: number, aggregate: boolean): Packet[] {
  const payloads: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 1;
  const flush = (): void => {
    if (pending.length === 1 && pending[0] !== undefined) payloads.push(pending[0]);
    else if (pending.length > 1) payloads.push(stapA(pending));
    pending = [];
    pendingBytes = 1;
  };
  for (const unit of nalUnits) {
    if (unit.length > mtu) {
      flush();
      payloads.push(...fuA(unit, [Math.max(1, mtu - 2)]));
      continue;
    }
    if (!aggregate || pendingBytes + 2 + unit.length > mtu) flush();
    pending.push(unit);
    pendingBytes += 2 + unit.length;
  }
  flush();
  return payloads.map((payload, index) => ({ payload, marker: index === payloads.length - 1 }));
}

export interface Vp8DescriptorOptions {
  pictureId?: number;
  /** 15-bit picture id (M) rather than 7-bit. */
  isLongPictureId?: boolean;
  tl0PicIdx?: number;
  temporalLayerId?: number;
  keyIndex?: number;
}

/** RFC 7741 §4.2: the descriptor bytes for one packet. */
export function vp8Descriptor(
  isStart: boolean,
  partitionId: number,
  options: Vp8DescriptorOptions,
): number[] {
  const { pictureId, tl0PicIdx, temporalLayerId, keyIndex } = options;
  const hasExtension = [pictureId, tl0PicIdx, temporalLayerId, keyIndex].some((field) => field !== undefined);
  const bytes = [(hasExtension ? 0x80 : 0) | (isStart ? 0x10 : 0) | (partitionId & 0x07)];
  if (!hasExtension) return bytes;
  bytes.push(
    (pictureId !== undefined ? 0x80 : 0) |
      (tl0PicIdx !== undefined ? 0x40 : 0) |
      (temporalLayerId !== undefined ? 0x20 : 0) |
      (keyIndex !== undefined ? 0x10 : 0),
  );
  if (pictureId !== undefined) {
    if (options.isLongPictureId === true) bytes.push(0x80 | ((pictureId >> 8) & 0x7f), pictureId & 0xff);
    else bytes.push(pictureId & 0x7f);
  }
  if (tl0PicIdx !== undefined) bytes.push(tl0PicIdx & 0xff);
  if (temporalLayerId !== undefined || keyIndex !== undefined) {
    bytes.push(((temporalLayerId ?? 0) << 6) | ((keyIndex ?? 0) & 0x1f));
  }
  return bytes;
}

/** One VP8 frame in packets of at most `sizes` payload bytes (in turn); S=1 PID=0 first, marker last. */
export function packetizeVp8(
  frame: Uint8Array,
  sizes: readonly number[],
  options: Vp8DescriptorOptions,
): Packet[] {
  const parts = chunkSizes(frame.length, sizes);
  let offset = 0;
  return parts.map((size, index) => {
    const descriptor = vp8Descriptor(index === 0, 0, options);
    const payload = new Uint8Array(descriptor.length + size);
    payload.set(descriptor);
    payload.set(frame.subarray(offset, offset + size), descriptor.length);
    offset += size;
    return { payload, marker: index === parts.length - 1 };
  });
}

export interface Vp9DescriptorOptions {
  pictureId?: number;
  isLongPictureId?: boolean;
  isFlexible?: boolean;
  /** Layer indices (L) with these values; TL0PICIDX follows in non-flexible mode. */
  layer?: { temporalLayerId: number; spatialLayerId: number; tl0PicIdx: number };
  /** P_DIFFs for inter frames in flexible mode (1 to 3). */
  pictureDiffs?: number[];
  /** Scalability structure bytes for the first packet of a key frame (V). */
  scalability?: number[];
}

/** RFC 9628 §4.2: the descriptor bytes for one packet. */
export function vp9Descriptor(
  flags: { isStart: boolean; isEnd: boolean; isInter: boolean },
  options: Vp9DescriptorOptions,
): number[] {
  const { pictureId, layer } = options;
  const isFlexible = options.isFlexible === true;
  const diffs = isFlexible && flags.isInter ? (options.pictureDiffs ?? [1]) : [];
  const scalability = flags.isStart && !flags.isInter ? options.scalability : undefined;
  const bytes = [
    (pictureId !== undefined ? 0x80 : 0) |
      (flags.isInter ? 0x40 : 0) |
      (layer !== undefined ? 0x20 : 0) |
      (isFlexible ? 0x10 : 0) |
      (flags.isStart ? 0x08 : 0) |
      (flags.isEnd ? 0x04 : 0) |
      (scalability !== undefined ? 0x02 : 0),
  ];
  if (pictureId !== undefined) {
    if (options.isLongPictureId === true) bytes.push(0x80 | ((pictureId >> 8) & 0x7f), pictureId & 0xff);
    else bytes.push(pictureId & 0x7f);
  }
  if (layer !== undefined) {
    bytes.push(((layer.temporalLayerId & 0x07) << 5) | ((layer.spatialLayerId & 0x07) << 1));
    if (!isFlexible) bytes.push(layer.tl0PicIdx & 0xff);
  }
  diffs.forEach((diff, index) => bytes.push(((diff & 0x7f) << 1) | (index < diffs.length - 1 ? 1 : 0)));
  if (scalability !== undefined) bytes.push(...scalability);
  return bytes;
}

/** One VP9 frame in packets of at most `sizes` payload bytes (in turn); B first, E and marker last. */
export function packetizeVp9(
  frame: Uint8Array,
  isInter: boolean,
  sizes: readonly number[],
  options: Vp9DescriptorOptions,
): Packet[] {
  const parts = chunkSizes(frame.length, sizes);
  let offset = 0;
  return parts.map((size, index) => {
    const isEnd = index === parts.length - 1;
    const descriptor = vp9Descriptor({ isStart: index === 0, isEnd, isInter }, options);
    const payload = new Uint8Array(descriptor.length + size);
    payload.set(descriptor);
    payload.set(frame.subarray(offset, offset + size), descriptor.length);
    offset += size;
    return { payload, marker: isEnd };
  });
}
