/**
 * A streaming Matroska writer: a header (EBML header, a Segment of unknown size, Info and Tracks), then one
 * Cluster per frame holding a single SimpleBlock. One cluster per frame costs ~15 bytes and makes every frame
 * writable the moment it exists, with no state between frames: right for a live pipe into ffmpeg and for
 * debug recordings that ffprobe reads. Returns bytes; where they go is the caller's business.
 * Element IDs from the Matroska specification (RFC 9559).
 */
import type { Codec } from '../rtp/encoded-frame.ts';
import {
  concat,
  element,
  floatElement,
  idBytes,
  stringElement,
  uintElement,
  unknownSize,
  vint,
} from './ebml.ts';

const ids = {
  ebml: 0x1a45dfa3,
  ebmlVersion: 0x4286,
  ebmlReadVersion: 0x42f7,
  ebmlMaxIdLength: 0x42f2,
  ebmlMaxSizeLength: 0x42f3,
  docType: 0x4282,
  docTypeVersion: 0x4287,
  docTypeReadVersion: 0x4285,
  segment: 0x18538067,
  info: 0x1549a966,
  timestampScale: 0x2ad7b1,
  muxingApp: 0x4d80,
  writingApp: 0x5741,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackUid: 0x73c5,
  trackType: 0x83,
  codecId: 0x86,
  codecPrivate: 0x63a2,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
  audio: 0xe1,
  samplingFrequency: 0xb5,
  channels: 0x9f,
  bitDepth: 0x6264,
  colourSpace: 0x2eb524,
  cluster: 0x1f43b675,
  timestamp: 0xe7,
  simpleBlock: 0xa3,
} as const;

/** Encoded codecs, plus raw I420 video and s16le PCM (the encoder's input). */
export type MatroskaCodec = Codec | 'I420' | 'PCM_S16LE';

export interface MatroskaTrack {
  number: number;
  codec: MatroskaCodec;
  width?: number;
  height?: number;
  channels?: number;
  codecPrivate?: Uint8Array;
}

const codecIds: Record<MatroskaCodec, string> = {
  H264: 'V_MPEG4/ISO/AVC',
  VP8: 'V_VP8',
  VP9: 'V_VP9',
  opus: 'A_OPUS',
  I420: 'V_UNCOMPRESSED',
  PCM_S16LE: 'A_PCM/INT/LIT',
};

/** The Opus identification header (RFC 7845 §5.1), Matroska's CodecPrivate for A_OPUS. */
export function opusHead(channels: number, preSkip = 0, inputSampleRate = 48_000): Uint8Array {
  const out = new Uint8Array(19);
  out.set(new TextEncoder().encode('OpusHead'), 0);
  const view = new DataView(out.buffer);
  view.setUint8(8, 1);
  view.setUint8(9, channels);
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputSampleRate, true);
  view.setInt16(16, 0, true);
  view.setUint8(18, 0);
  return out;
}

function trackEntry(track: MatroskaTrack): Uint8Array {
  const isAudio = track.codec === 'opus' || track.codec === 'PCM_S16LE';
  const children = [
    uintElement(ids.trackNumber, track.number),
    uintElement(ids.trackUid, track.number),
    uintElement(ids.trackType, isAudio ? 2 : 1),
    stringElement(ids.codecId, codecIds[track.codec]),
  ];
  const codecPrivate =
    track.codecPrivate ?? (track.codec === 'opus' ? opusHead(track.channels ?? 2) : undefined);
  if (codecPrivate !== undefined) children.push(element(ids.codecPrivate, codecPrivate));
  if (isAudio) {
    const audio = [
      floatElement(ids.samplingFrequency, 48_000),
      uintElement(ids.channels, track.channels ?? 2),
    ];
    if (track.codec === 'PCM_S16LE') audio.push(uintElement(ids.bitDepth, 16));
    children.push(element(ids.audio, ...audio));
  } else if (track.width !== undefined && track.height !== undefined) {
    const video = [uintElement(ids.pixelWidth, track.width), uintElement(ids.pixelHeight, track.height)];
    // Raw video names its pixel layout by FourCC (Matroska: ColourSpace).
    if (track.codec === 'I420') video.push(element(ids.colourSpace, new TextEncoder().encode('I420')));
    children.push(element(ids.video, ...video));
  }
  return element(ids.trackEntry, ...children);
}

/** EBML header, the start of a live Segment, Info (1 ms timestamps) and Tracks. */
export function matroskaHeader(tracks: readonly MatroskaTrack[]): Uint8Array {
  const ebml = element(
    ids.ebml,
    uintElement(ids.ebmlVersion, 1),
    uintElement(ids.ebmlReadVersion, 1),
    uintElement(ids.ebmlMaxIdLength, 4),
    uintElement(ids.ebmlMaxSizeLength, 8),
    stringElement(ids.docType, 'matroska'),
    uintElement(ids.docTypeVersion, 4),
    uintElement(ids.docTypeReadVersion, 2),
  );
  const info = element(
    ids.info,
    uintElement(ids.timestampScale, 1_000_000),
    stringElement(ids.muxingApp, 'Nagare'),
    stringElement(ids.writingApp, 'Nagare'),
  );
  const trackList = element(ids.tracks, ...tracks.map(trackEntry));
  return concat([ebml, idBytes(ids.segment), unknownSize, info, trackList]);
}

/**
 * One frame as a Cluster (timestamp in ms, ≥ 0) holding one SimpleBlock, as two pieces: the headers, and the
 * frame's own bytes untouched — so a large raw picture is written without being copied.
 */
export function matroskaFrameParts(
  trackNumber: number,
  timestampMs: number,
  keyframe: boolean,
  data: Uint8Array,
): [Uint8Array, Uint8Array] {
  if (trackNumber < 1 || trackNumber > 126) throw new RangeError('track numbers 1 to 126 are supported');
  const blockHeader = new Uint8Array([0x80 | trackNumber, 0, 0, keyframe ? 0x80 : 0]);
  const timestamp = uintElement(ids.timestamp, Math.max(0, Math.round(timestampMs)));
  const blockSize = blockHeader.length + data.length;
  const block = concat([idBytes(ids.simpleBlock), vint(blockSize), blockHeader]);
  const clusterSize = timestamp.length + block.length + data.length;
  return [concat([idBytes(ids.cluster), vint(clusterSize), timestamp, block]), data];
}

/** One frame as a Cluster holding one SimpleBlock, in one buffer. */
export function matroskaFrame(
  trackNumber: number,
  timestampMs: number,
  keyframe: boolean,
  data: Uint8Array,
): Uint8Array {
  return concat(matroskaFrameParts(trackNumber, timestampMs, keyframe, data));
}
