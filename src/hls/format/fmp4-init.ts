/**
 * Reads a CMAF / fragmented-MP4 initialization segment (ftyp + moov, ISO/IEC 14496-12 §8) into what an HLS
 * packager needs per track: its id, handler, timescale, the RFC 6381 codec string for the CODECS attribute
 * (RFC 8216bis §4.4.6.2), picture size or audio format, and the `trex` defaults that fragments may rely on.
 */
import { ParseError } from '../../rtp/parse-error.ts';
import { FieldReader, childBoxes, findBox, listBoxes, requireBox, type Box } from './mp4-box.ts';

/** Per-track sample defaults from `mvex/trex` (ISO/IEC 14496-12 §8.8.3), used when a fragment omits a field. */
export interface TrackDefaults {
  readonly sampleDescriptionIndex: number;
  readonly sampleDurationTicks: number;
  readonly sampleSize: number;
  readonly sampleFlags: number;
}

export interface InitTrack {
  readonly trackId: number;
  /** `hdlr` handler_type: 'vide' for video, 'soun' for audio, or another four-character code. */
  readonly handler: 'vide' | 'soun' | (string & {});
  /** `mdhd` timescale: ticks per second of this track's decode times and durations. */
  readonly timescale: number;
  /** Four-character code of the first sample entry in `stsd` ('avc1', 'mp4a', …). */
  readonly sampleEntry: string;
  /**
   * RFC 6381 codec string: 'avc1.PPCCLL' / 'avc3.PPCCLL' from the avcC, 'mp4a.40.<audio object type>' from the
   * esds, 'Opus', 'fLaC', 'ac-3', 'ec-3'; for any other sample entry only its four-character code (not a
   * complete codec string; the HLS CODECS attribute needs more for HEVC, VP9 or AV1).
   */
  readonly codec: string;
  /** Presentation size from `tkhd`, or the coded size of the visual sample entry when `tkhd` says 0. */
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
  readonly defaults: TrackDefaults;
}

export interface InitInfo {
  readonly tracks: readonly InitTrack[];
}

const noDefaults: TrackDefaults = {
  sampleDescriptionIndex: 1,
  sampleDurationTicks: 0,
  sampleSize: 0,
  sampleFlags: 0,
};

const hex2 = (value: number): string => value.toString(16).toUpperCase().padStart(2, '0');

/** Parses an initialization segment; malformed or incomplete input throws ParseError. Never writes `bytes`. */
export const parseInit = (bytes: Uint8Array): InitInfo => {
  const top = listBoxes(bytes, 0, bytes.length);
  const moov = requireBox(top, 'moov', 0);
  const moovChildren = childBoxes(bytes, moov);
  const mvex = findBox(moovChildren, 'mvex');
  const defaults = mvex === undefined ? new Map<number, TrackDefaults>() : readTrex(bytes, mvex);
  const tracks = moovChildren
    .filter((box) => box.type === 'trak')
    .map((trak) => readTrack(bytes, trak, defaults));
  if (tracks.length === 0) throw new ParseError("'moov' has no 'trak'", moov.start);
  return { tracks };
};

/** `trex` per track (ISO/IEC 14496-12 §8.8.3.2). */
const readTrex = (bytes: Uint8Array, mvex: Box): Map<number, TrackDefaults> => {
  const byTrack = new Map<number, TrackDefaults>();
  for (const trex of childBoxes(bytes, mvex).filter((box) => box.type === 'trex')) {
    const r = FieldReader.of(bytes, trex);
    r.fullBox('trex');
    const trackId = r.u32('trex track_ID');
    byTrack.set(trackId, {
      sampleDescriptionIndex: r.u32('trex default_sample_description_index'),
      sampleDurationTicks: r.u32('trex default_sample_duration'),
      sampleSize: r.u32('trex default_sample_size'),
      sampleFlags: r.u32('trex default_sample_flags'),
    });
  }
  return byTrack;
};

const readTrack = (bytes: Uint8Array, trak: Box, defaults: Map<number, TrackDefaults>): InitTrack => {
  const trakChildren = childBoxes(bytes, trak);
  const header = readTkhd(bytes, requireBox(trakChildren, 'tkhd', trak));
  const mdia = requireBox(trakChildren, 'mdia', trak);
  const mdiaChildren = childBoxes(bytes, mdia);
  const timescale = readMdhdTimescale(bytes, requireBox(mdiaChildren, 'mdhd', mdia));
  const handler = readHandler(bytes, requireBox(mdiaChildren, 'hdlr', mdia));
  const minf = requireBox(mdiaChildren, 'minf', mdia);
  const stbl = requireBox(childBoxes(bytes, minf), 'stbl', minf);
  const stsd = requireBox(childBoxes(bytes, stbl), 'stsd', stbl);
  const entry = readSampleEntry(bytes, stsd, handler);
  const width = header.width > 0 ? header.width : entry.width;
  const height = header.height > 0 ? header.height : entry.height;
  return {
    trackId: header.trackId,
    handler,
    timescale,
    sampleEntry: entry.type,
    codec: entry.codec,
    ...(width !== undefined && width > 0 ? { width } : {}),
    ...(height !== undefined && height > 0 ? { height } : {}),
    ...(entry.sampleRate !== undefined ? { sampleRate: entry.sampleRate } : {}),
    ...(entry.channels !== undefined ? { channels: entry.channels } : {}),
    defaults: defaults.get(header.trackId) ?? noDefaults,
  };
};

/** `tkhd` (ISO/IEC 14496-12 §8.3.2): track_ID, and width/height as 16.16 fixed point. */
const readTkhd = (bytes: Uint8Array, tkhd: Box): { trackId: number; width: number; height: number } => {
  const r = FieldReader.of(bytes, tkhd);
  const { version } = r.fullBox('tkhd');
  r.skip(version === 1 ? 16 : 8, 'tkhd times');
  const trackId = r.u32('tkhd track_ID');
  r.skip(4 + (version === 1 ? 8 : 4) + 8 + 2 + 2 + 2 + 2 + 36, 'tkhd fields');
  const width = r.u32('tkhd width') >>> 16;
  const height = r.u32('tkhd height') >>> 16;
  if (trackId === 0) throw new ParseError('tkhd track_ID 0', tkhd.start);
  return { trackId, width, height };
};

/** `mdhd` (ISO/IEC 14496-12 §8.4.2) timescale. */
const readMdhdTimescale = (bytes: Uint8Array, mdhd: Box): number => {
  const r = FieldReader.of(bytes, mdhd);
  const { version } = r.fullBox('mdhd');
  r.skip(version === 1 ? 16 : 8, 'mdhd times');
  const timescale = r.u32('mdhd timescale');
  if (timescale === 0) throw new ParseError('mdhd timescale 0', mdhd.start);
  return timescale;
};

/** `hdlr` (ISO/IEC 14496-12 §8.4.3) handler_type. */
const readHandler = (bytes: Uint8Array, hdlr: Box): string => {
  const r = FieldReader.of(bytes, hdlr);
  r.fullBox('hdlr');
  r.skip(4, 'hdlr pre_defined');
  const type = r.bytes(4, 'hdlr handler_type');
  return String.fromCharCode(...type);
};

interface SampleEntryInfo {
  readonly type: string;
  readonly codec: string;
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
}

/** The first entry of `stsd` (ISO/IEC 14496-12 §8.5.2), read as a visual or audio sample entry by handler. */
const readSampleEntry = (bytes: Uint8Array, stsd: Box, handler: string): SampleEntryInfo => {
  const r = FieldReader.of(bytes, stsd);
  r.fullBox('stsd');
  if (r.u32('stsd entry_count') === 0) throw new ParseError("'stsd' has no sample entry", stsd.start);
  const [entry] = listBoxes(bytes, r.offset, stsd.end);
  if (entry === undefined) throw new ParseError("'stsd' has no sample entry", stsd.start);
  if (handler === 'vide') return readVisualEntry(bytes, entry);
  if (handler === 'soun') return readAudioEntry(bytes, entry);
  return { type: entry.type, codec: entry.type };
};

/** VisualSampleEntry (ISO/IEC 14496-12 §12.1.3): 8 bytes SampleEntry + 70 bytes of fields, then boxes. */
const readVisualEntry = (bytes: Uint8Array, entry: Box): SampleEntryInfo => {
  const r = FieldReader.of(bytes, entry);
  r.skip(8 + 16, 'visual sample entry');
  const width = r.u16('sample entry width');
  const height = r.u16('sample entry height');
  r.skip(50, 'visual sample entry');
  const children = listBoxes(bytes, r.offset, entry.end);
  return { type: entry.type, codec: visualCodec(bytes, entry, children), width, height };
};

/** RFC 6381 §3.3: 'avc1.PPCCLL' — profile_idc, constraint flags and level_idc from the avcC (ISO/IEC 14496-15). */
const visualCodec = (bytes: Uint8Array, entry: Box, children: readonly Box[]): string => {
  if (entry.type !== 'avc1' && entry.type !== 'avc3') return entry.type;
  const avcC = requireBox(children, 'avcC', entry);
  const r = FieldReader.of(bytes, avcC);
  const configurationVersion = r.u8('avcC configurationVersion');
  if (configurationVersion !== 1) {
    throw new ParseError(`avcC configurationVersion ${configurationVersion}, expected 1`, avcC.contentStart);
  }
  const profile = r.u8('avcC AVCProfileIndication');
  const constraints = r.u8('avcC profile_compatibility');
  const level = r.u8('avcC AVCLevelIndication');
  return `${entry.type}.${hex2(profile)}${hex2(constraints)}${hex2(level)}`;
};

/**
 * AudioSampleEntry (ISO/IEC 14496-12 §12.2.3): 8 bytes SampleEntry, 8 reserved (a QuickTime sound description
 * version in the first two; versions 1 and 2 add 16 and 36 bytes), channelcount, samplesize, 4 reserved,
 * samplerate as 16.16. A rate of 0 (QuickTime v2 keeps it elsewhere) is left out rather than guessed.
 * ISO/IEC 14496-14 makes channelcount a template field for MPEG-4 audio (ffmpeg writes 2 for a mono AAC
 * stream), so for mp4a the channel count comes from the AudioSpecificConfig when it states one.
 */
const readAudioEntry = (bytes: Uint8Array, entry: Box): SampleEntryInfo => {
  const r = FieldReader.of(bytes, entry);
  r.skip(8, 'audio sample entry');
  const version = r.u16('audio sample entry version');
  r.skip(6, 'audio sample entry');
  const entryChannels = r.u16('audio sample entry channelcount');
  r.skip(6, 'audio sample entry');
  const sampleRate = r.u32('audio sample entry samplerate') >>> 16;
  r.skip(version === 1 ? 16 : version === 2 ? 36 : 0, 'QuickTime sound description');
  const children = listBoxes(bytes, r.offset, entry.end);
  const audio = entry.type === 'mp4a' ? readEsds(bytes, requireBox(children, 'esds', entry)) : undefined;
  return {
    type: entry.type,
    codec: audio?.codec ?? plainAudioCodecs[entry.type] ?? entry.type,
    channels: audio?.channels ?? entryChannels,
    ...(sampleRate > 0 ? { sampleRate } : {}),
  };
};

const plainAudioCodecs: Readonly<Record<string, string>> = {
  Opus: 'Opus',
  fLaC: 'fLaC',
  'ac-3': 'ac-3',
  'ec-3': 'ec-3',
};

/**
 * RFC 6381 §3.3: 'mp4a.OO' with the DecoderConfigDescriptor's objectTypeIndication in hex, and for MPEG-4 audio
 * (0x40) a third element, the AudioSpecificConfig's audio object type (ISO/IEC 14496-3 §1.6.2.1, 31 = escape).
 * Descriptors (ISO/IEC 14496-1 §7.2.6): ES_Descriptor (tag 3) ⊃ DecoderConfigDescriptor (4) ⊃ DecSpecificInfo (5).
 */
const readEsds = (bytes: Uint8Array, esds: Box): { codec: string; channels?: number } => {
  const { objectType, decoderSpecificInfo } = readEsDescriptor(bytes, esds);
  if (objectType !== 0x40) return { codec: `mp4a.${hex2(objectType)}` };
  const config = readAudioSpecificConfig(decoderSpecificInfo().bytes);
  return {
    codec: `mp4a.40.${config.audioObjectType}`,
    ...(config.channels > 0 ? { channels: config.channels } : {}),
  };
};

export interface EsDescriptor {
  /** The DecoderConfigDescriptor's objectTypeIndication (0x40: MPEG-4 audio) and where it is. */
  objectType: number;
  objectTypeAt: number;
  /** Reads the DecSpecificInfo (for MPEG-4 audio the AudioSpecificConfig) and where its descriptor starts. */
  decoderSpecificInfo: () => { bytes: Uint8Array; at: number };
}

/**
 * Walks an esds box (ISO/IEC 14496-1 §7.2.6): ES_Descriptor (tag 3) ⊃ DecoderConfigDescriptor (4) ⊃
 * DecSpecificInfo (5). Malformed input throws ParseError.
 */
export const readEsDescriptor = (bytes: Uint8Array, esds: Box): EsDescriptor => {
  const r = FieldReader.of(bytes, esds);
  r.fullBox('esds');
  readDescriptorHeader(r, 0x03);
  r.skip(2, 'ES_ID');
  const esFlags = r.u8('ES_Descriptor flags');
  if ((esFlags & 0x80) !== 0) r.skip(2, 'dependsOn_ES_ID');
  if ((esFlags & 0x40) !== 0) r.skip(r.u8('URLlength'), 'URLstring');
  if ((esFlags & 0x20) !== 0) r.skip(2, 'OCR_ES_Id');
  readDescriptorHeader(r, 0x04);
  const objectTypeAt = r.offset;
  const objectType = r.u8('objectTypeIndication');
  r.skip(12, 'DecoderConfigDescriptor');
  return {
    objectType,
    objectTypeAt,
    decoderSpecificInfo: () => {
      const at = r.offset;
      return { bytes: r.bytes(readDescriptorHeader(r, 0x05), 'AudioSpecificConfig'), at };
    },
  };
};

/** Channels per channelConfiguration (ISO/IEC 14496-3 §1.6.3.4, table 1.19); 0 = in a program config element. */
const channelsByConfiguration = [0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8, 0];

/**
 * The head of an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): audioObjectType (5 bits, 31 escapes to 32 + 6
 * bits), samplingFrequencyIndex (4 bits, 15 escapes to a 24-bit rate), channelConfiguration (4 bits).
 */
const readAudioSpecificConfig = (config: Uint8Array): { audioObjectType: number; channels: number } => {
  let bitOffset = 0;
  const bits = (count: number): number => {
    let value = 0;
    for (let i = 0; i < count; i++, bitOffset++) {
      const byte = config[bitOffset >>> 3];
      if (byte === undefined) throw new ParseError('truncated AudioSpecificConfig', bitOffset >>> 3);
      value = value * 2 + ((byte >>> (7 - (bitOffset & 7))) & 1);
    }
    return value;
  };
  let audioObjectType = bits(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits(6);
  if (bits(4) === 15) bits(24);
  return { audioObjectType, channels: channelsByConfiguration[bits(4)] ?? 0 };
};
/** A descriptor tag and its expandable size (ISO/IEC 14496-1 §8.3.3: up to four bytes, 7 bits each). */
const readDescriptorHeader = (r: FieldReader, expectedTag: number): number => {
  const at = r.offset;
  const tag = r.u8('descriptor tag');
  if (tag !== expectedTag) throw new ParseError(`descriptor tag ${tag}, expected ${expectedTag}`, at);
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const byte = r.u8('descriptor size');
    size = (size << 7) | (byte & 0x7f);
    if ((byte & 0x80) === 0) return size;
  }
  throw new ParseError('descriptor size longer than four bytes', at);
};
