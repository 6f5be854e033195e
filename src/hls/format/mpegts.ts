/**
 * CMAF → MPEG-TS remuxing for HLS clients that cannot play fMP4 (RFC 8216bis §3.2: one MPEG-2 program per
 * segment, PAT and PMT at its start). ISO/IEC 13818-1 framing: 188-byte packets, PES with 90 kHz PTS/DTS, PCR.
 * H.264 goes as an Annex B byte stream (ITU-T H.264 Annex B, §7.4.1.2.3 order: AUD, SPS, PPS, then the sample's
 * NAL units); AAC goes as ADTS frames (ISO/IEC 14496-3 §1.A.2). Pure: bytes in, bytes out; malformed input throws
 * ParseError and the caller's bytes are never written.
 */
import { ParseError } from '../../rtp/parse-error.ts';
import { readFragmentSamples, type FragmentSample } from './fmp4-fragment.ts';
import { parseInit, readEsDescriptor, type InitInfo, type InitTrack } from './fmp4-init.ts';
import { FieldReader, childBoxes, listBoxes, requireBox, type Box } from './mp4-box.ts';

export interface TsVideoConfig {
  readonly trackId: number;
  readonly timescale: number;
  /** The avcC's SPS then PPS NAL units (ISO/IEC 14496-15 §5.3.3.1), copied, without length prefixes. */
  readonly parameterSets: readonly Uint8Array[];
  /** Bytes of the length before each NAL unit in a sample: avcC lengthSizeMinusOne + 1, so 1, 2 or 4. */
  readonly nalLengthSize: number;
}

export interface TsAudioConfig {
  readonly trackId: number;
  readonly timescale: number;
  /** ADTS profile: AAC audio object type − 1 (0 Main, 1 LC, 2 SSR, 3 LTP); HE-AAC goes as its LC core. */
  readonly adtsProfile: number;
  /** AudioSpecificConfig samplingFrequencyIndex (ISO/IEC 14496-3 table 1.16) of the AAC core. */
  readonly samplingFrequencyIndex: number;
  /** AudioSpecificConfig channelConfiguration, 1 to 7. */
  readonly channelConfiguration: number;
}

/** What a TS remux needs from an init segment: H.264 parameter sets and NAL length size from avcC, AAC config from esds. */
export interface TsRemuxConfig {
  /** The init's tracks with their trex defaults, which the fragments' sample tables may rely on. */
  readonly init: InitInfo;
  /** The first video track; absent for an audio-only stream. */
  readonly video?: TsVideoConfig;
  /** The first audio track; absent for a video-only stream. */
  readonly audio?: TsAudioConfig;
}

const pmtPid = 0x1000;
const videoPid = 0x100;
const audioPid = 0x101;
const packetSize = 188;
const ticksPerSecond = 90_000;
const timestampModulus = 2 ** 33;
/** PCR runs this far behind the decode time it announces: ffmpeg's mpegts muxer default (max_delay 0.7 s). */
const pcrLeadTicks = 63_000;
/** Largest step between PCRs (ISO/IEC 13818-1 §2.7.2 requires at most 100 ms). */
const pcrIntervalTicks = 9_000;
/** A larger gap is a jump in the input timeline: the PCR follows it rather than filling it with packets. */
const maxPcrFillTicks = 10 * ticksPerSecond;
/** Audio frames share a PES while they start within this of its PTS and follow each other without a gap. */
const audioPesSpanTicks = 9_000;
const maxPesPacketLength = 0xffff;

/**
 * Reads the first H.264 video track's avcC and the first AAC audio track's esds. A video track that is not
 * H.264 (avc1/avc3) or an audio track that is not AAC cannot be carried this way and is a ParseError too, so a
 * stream is never silently remuxed without one of its tracks; tracks of other handlers are left out.
 */
export function tsConfigFromInit(init: Uint8Array): TsRemuxConfig {
  const info = parseInit(init);
  const moov = requireBox(listBoxes(init, 0, init.length), 'moov', 0);
  // parseInit reads every trak of the moov in order, so its tracks line up with these boxes.
  const traks = childBoxes(init, moov).filter((box) => box.type === 'trak');
  let video: TsVideoConfig | undefined;
  let audio: TsAudioConfig | undefined;
  info.tracks.forEach((track, index) => {
    const trak = traks[index];
    if (trak === undefined) return;
    if (track.handler === 'vide' && video === undefined) video = readVideoConfig(init, trak, track);
    if (track.handler === 'soun' && audio === undefined) audio = readAudioConfig(init, trak, track);
  });
  if (video === undefined && audio === undefined) {
    throw new ParseError("'moov' has no video or audio track", moov.start);
  }
  return { init: info, ...(video === undefined ? {} : { video }), ...(audio === undefined ? {} : { audio }) };
}

/** The first sample entry of a trak's `stsd` (ISO/IEC 14496-12 §8.5.2). */
const sampleEntry = (bytes: Uint8Array, trak: Box): Box => {
  const mdia = requireBox(childBoxes(bytes, trak), 'mdia', trak);
  const minf = requireBox(childBoxes(bytes, mdia), 'minf', mdia);
  const stbl = requireBox(childBoxes(bytes, minf), 'stbl', minf);
  const stsd = requireBox(childBoxes(bytes, stbl), 'stsd', stbl);
  const [entry] = childBoxes(bytes, stsd, 8);
  if (entry === undefined) throw new ParseError("'stsd' has no sample entry", stsd.start);
  return entry;
};

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) after the 78-byte VisualSampleEntry header. */
const readVideoConfig = (bytes: Uint8Array, trak: Box, track: InitTrack): TsVideoConfig => {
  const entry = sampleEntry(bytes, trak);
  if (entry.type !== 'avc1' && entry.type !== 'avc3') {
    throw new ParseError(
      `video sample entry '${entry.type}' is not H.264, cannot go in MPEG-TS`,
      entry.start,
    );
  }
  const avcC = requireBox(childBoxes(bytes, entry, 78), 'avcC', entry);
  const r = FieldReader.of(bytes, avcC);
  r.skip(4, 'avcC version, profile, compatibility and level');
  const nalLengthSize = (r.u8('avcC lengthSizeMinusOne') & 0x03) + 1;
  if (nalLengthSize === 3)
    throw new ParseError('avcC NAL length size 3 (only 1, 2 or 4)', avcC.contentStart + 4);
  const parameterSets: Uint8Array[] = [];
  const spsCount = r.u8('avcC numOfSequenceParameterSets') & 0x1f;
  for (let i = 0; i < spsCount; i++)
    parameterSets.push(r.bytes(r.u16('avcC SPS length'), 'avcC SPS').slice());
  const ppsCount = r.u8('avcC numOfPictureParameterSets');
  for (let i = 0; i < ppsCount; i++)
    parameterSets.push(r.bytes(r.u16('avcC PPS length'), 'avcC PPS').slice());
  return { trackId: track.trackId, timescale: track.timescale, parameterSets, nalLengthSize };
};

/** esds (ISO/IEC 14496-1 §7.2.6) → DecoderConfigDescriptor → AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
const readAudioConfig = (bytes: Uint8Array, trak: Box, track: InitTrack): TsAudioConfig => {
  const entry = sampleEntry(bytes, trak);
  if (entry.type !== 'mp4a') {
    throw new ParseError(`audio sample entry '${entry.type}' is not AAC, cannot go in MPEG-TS`, entry.start);
  }
  const version = FieldReader.of(bytes, entry).bytes(10, 'audio sample entry')[9] ?? 0;
  // QuickTime sound description versions 1 and 2 add 16 and 36 bytes (as in fmp4-init.ts).
  const skip = 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
  const esds = requireBox(childBoxes(bytes, entry, skip), 'esds', entry);
  const descriptor = readEsDescriptor(bytes, esds);
  if (descriptor.objectType !== 0x40) {
    throw new ParseError(
      `objectTypeIndication ${descriptor.objectType}, not MPEG-4 audio`,
      descriptor.objectTypeAt,
    );
  }
  const info = descriptor.decoderSpecificInfo();
  const config = readAudioSpecificConfig(info.bytes, info.at);
  return { trackId: track.trackId, timescale: track.timescale, ...config };
};

/**
 * AudioSpecificConfig head. ADTS (§1.A.2.2.1) has 2 profile bits, a 4-bit frequency index and 3 channel bits, so
 * an object type past LTP, an explicit frequency (index 15) or a channel layout in a program config element
 * cannot be stated; SBR/PS (types 5 and 29, explicit signalling) go as their core with implicit signalling.
 */
const readAudioSpecificConfig = (
  config: Uint8Array,
  at: number,
): Pick<TsAudioConfig, 'adtsProfile' | 'samplingFrequencyIndex' | 'channelConfiguration'> => {
  let bitOffset = 0;
  const bits = (count: number): number => {
    let value = 0;
    for (let i = 0; i < count; i++, bitOffset++) {
      const byte = config[bitOffset >>> 3];
      if (byte === undefined) throw new ParseError('truncated AudioSpecificConfig', at + (bitOffset >>> 3));
      value = value * 2 + ((byte >>> (7 - (bitOffset & 7))) & 1);
    }
    return value;
  };
  const objectType = (): number => {
    const type = bits(5);
    return type === 31 ? 32 + bits(6) : type;
  };
  let audioObjectType = objectType();
  const samplingFrequencyIndex = bits(4);
  const channelConfiguration = bits(4);
  if (audioObjectType === 5 || audioObjectType === 29) {
    if (bits(4) === 15) bits(24);
    audioObjectType = objectType();
  }
  if (audioObjectType < 1 || audioObjectType > 4) {
    throw new ParseError(`AAC object type ${audioObjectType} cannot be stated in ADTS`, at);
  }
  if (samplingFrequencyIndex > 12) {
    throw new ParseError(`sampling frequency index ${samplingFrequencyIndex} cannot be stated in ADTS`, at);
  }
  if (channelConfiguration < 1 || channelConfiguration > 7) {
    throw new ParseError(`channel configuration ${channelConfiguration} cannot be stated in ADTS`, at);
  }
  return { adtsProfile: audioObjectType - 1, samplingFrequencyIndex, channelConfiguration };
};

/** One PES to write: its elementary stream bytes and unwrapped 90 kHz times (offset included). */
interface PesUnit {
  readonly pid: number;
  readonly streamId: number;
  readonly ptsTicks: number;
  readonly dtsTicks: number;
  /** Decode time just after this PES's last frame: where the stream's next PES would start. */
  readonly endTicks: number;
  readonly randomAccess: boolean;
  readonly data: Uint8Array;
}

/**
 * One HLS segment (a concatenation of fMP4 fragments: optional styp, then moof+mdat pairs) as MPEG-TS: PAT, PMT
 * (program 1, PMT PID 0x1000, video PID 0x100 stream_type 0x1b H.264, audio PID 0x101 stream_type 0x0f AAC ADTS,
 * PCR on the video PID, or on audio if there is no video), then PES packets in decode order interleaved by time.
 * Video: AVCC length-prefixed NAL units → Annex B with an access unit delimiter first, and SPS+PPS before every
 * sync (IDR) sample; PTS and DTS (90 kHz) from tfdt + sample durations + composition offsets, in the track's
 * timescale converted to 90 kHz. Negative composition offsets (trun version 1, as ffmpeg's CMAF output has with
 * B-frames) would put PTS before DTS, which MPEG-TS forbids: DTS is moved earlier by the segment's most negative
 * offset (the same in every segment of an encoder with a fixed B-frame pattern); PTS is never moved.
 * Audio: each AAC raw frame with a 7-byte ADTS header, several frames per PES allowed; PTS only.
 * `offsetSeconds` is added to every timestamp (so PTS does not start at 0; use it e.g. to keep times positive).
 * Continuity counters start at 0 for every segment. A `base_data_offset` in a tfhd counts from the segment start.
 */
export function remuxSegmentToTs(
  config: TsRemuxConfig,
  segment: Uint8Array,
  offsetSeconds: number,
): Uint8Array {
  if (!Number.isFinite(offsetSeconds)) throw new RangeError(`offsetSeconds ${offsetSeconds} is not finite`);
  const offsetTicks = Math.round(offsetSeconds * ticksPerSecond);
  const samples = collectSamples(config, segment);
  const video =
    config.video === undefined ? [] : videoUnits(config.video, segment, samples.video, offsetTicks);
  const audio =
    config.audio === undefined ? [] : audioUnits(config.audio, segment, samples.audio, offsetTicks);
  const writer = new TsWriter(config.video === undefined ? audioPid : videoPid);
  writer.psi(0, patSection());
  writer.psi(pmtPid, pmtSection(config));
  let v = 0;
  let a = 0;
  for (;;) {
    const nextVideo = video[v];
    const nextAudio = audio[a];
    if (nextVideo !== undefined && (nextAudio === undefined || nextVideo.dtsTicks <= nextAudio.dtsTicks)) {
      writer.pes(nextVideo);
      v++;
    } else if (nextAudio !== undefined) {
      writer.pes(nextAudio);
      a++;
    } else {
      break;
    }
  }
  // PCRs up to where the next segment starts (the earlier track end), so they stay ≤ 100 ms apart across it.
  const ends = [video.at(-1), audio.at(-1)].flatMap((unit) => (unit === undefined ? [] : [unit.endTicks]));
  if (ends.length > 0) writer.fillPcr(pcrFor(Math.min(...ends)));
  return writer.bytes();
}

/** Every sample of the segment's video and audio tracks, fragment by fragment, in decode order. */
const collectSamples = (
  config: TsRemuxConfig,
  segment: Uint8Array,
): { video: FragmentSample[]; audio: FragmentSample[] } => {
  const top = listBoxes(segment, 0, segment.length);
  const video: FragmentSample[] = [];
  const audio: FragmentSample[] = [];
  let moofCount = 0;
  for (let index = 0; index < top.length; index++) {
    const moof = top[index];
    if (moof?.type !== 'moof') continue;
    moofCount++;
    let next = index + 1;
    while (next < top.length && top[next]?.type !== 'mdat' && top[next]?.type !== 'moof') next++;
    const mdat = top[next];
    if (mdat?.type !== 'mdat') throw new ParseError("'moof' without an 'mdat' after it", moof.start);
    for (const track of readFragmentSamples(segment, moof, mdat, config.init)) {
      const into =
        track.trackId === config.video?.trackId
          ? video
          : track.trackId === config.audio?.trackId
            ? audio
            : [];
      for (const sample of track.samples) into.push(sample);
    }
  }
  if (moofCount === 0) throw new ParseError("missing 'moof' box in the segment", 0);
  return { video, audio };
};

/** Ticks of `timescale` as 90 kHz ticks, rounded; split so that large decode times stay exact. */
const to90kHz = (ticks: number, timescale: number): number => {
  const seconds = Math.floor(ticks / timescale);
  return seconds * ticksPerSecond + Math.round(((ticks - seconds * timescale) * ticksPerSecond) / timescale);
};

const videoUnits = (
  video: TsVideoConfig,
  segment: Uint8Array,
  samples: readonly FragmentSample[],
  offsetTicks: number,
): PesUnit[] => {
  const shift = samples.reduce((most, sample) => Math.max(most, -sample.compositionOffsetTicks), 0);
  return samples.map((sample) => ({
    pid: videoPid,
    streamId: 0xe0,
    ptsTicks: to90kHz(sample.decodeTicks + sample.compositionOffsetTicks, video.timescale) + offsetTicks,
    dtsTicks: to90kHz(sample.decodeTicks - shift, video.timescale) + offsetTicks,
    endTicks: to90kHz(sample.decodeTicks + sample.durationTicks - shift, video.timescale) + offsetTicks,
    randomAccess: sample.isSync,
    data: annexB(video, segment, sample),
  }));
};

const startCode = Uint8Array.of(0, 0, 0, 1);
/** Access unit delimiter (H.264 §7.3.2.4): nal_unit_type 9, primary_pic_type 7 (any slice type). */
const accessUnitDelimiter = Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0);

/**
 * One AVC sample (ISO/IEC 14496-15 §5.3.2: NAL units each after a big-endian length) as an Annex B access unit:
 * our AUD first (the sample's own AUDs are dropped: one per access unit), the avcC's SPS and PPS before a sync
 * sample so that every keyframe decodes on its own, then the sample's NAL units.
 */
const annexB = (video: TsVideoConfig, segment: Uint8Array, sample: FragmentSample): Uint8Array => {
  const r = new FieldReader(segment, sample.dataStart, sample.dataStart + sample.size);
  const units: Uint8Array[] = sample.isSync ? [...video.parameterSets] : [];
  while (r.remaining > 0) {
    let length = 0;
    for (let i = 0; i < video.nalLengthSize; i++) length = length * 256 + r.u8('NAL unit length');
    const at = r.offset;
    if (length > r.remaining) {
      throw new ParseError(
        `NAL unit length ${length} runs past the sample's ${r.remaining} remaining bytes`,
        at,
      );
    }
    const unit = r.bytes(length, 'NAL unit');
    if (length > 0 && ((unit[0] ?? 0) & 0x1f) !== 9) units.push(unit);
  }
  const out = new Uint8Array(units.reduce((sum, unit) => sum + startCode.length + unit.length, 6));
  out.set(accessUnitDelimiter);
  let at = accessUnitDelimiter.length;
  for (const unit of units) {
    out.set(startCode, at);
    out.set(unit, at + startCode.length);
    at += startCode.length + unit.length;
  }
  return out;
};

/** AAC frames with ADTS headers, consecutive frames sharing a PES (its PTS is the first frame's). */
const audioUnits = (
  audio: TsAudioConfig,
  segment: Uint8Array,
  samples: readonly FragmentSample[],
  offsetTicks: number,
): PesUnit[] => {
  const units: PesUnit[] = [];
  let group: { ptsTicks: number; frames: Uint8Array[]; bytes: number; nextDecodeTicks: number } | undefined;
  const close = (): void => {
    if (group === undefined) return;
    const data = concatBytes(group.frames, group.bytes);
    units.push({
      pid: audioPid,
      streamId: 0xc0,
      ptsTicks: group.ptsTicks,
      dtsTicks: group.ptsTicks,
      endTicks: to90kHz(group.nextDecodeTicks, audio.timescale) + offsetTicks,
      randomAccess: false,
      data,
    });
  };
  for (const sample of samples) {
    const frame = adtsFrame(audio, segment, sample);
    const ptsTicks = to90kHz(sample.decodeTicks, audio.timescale) + offsetTicks;
    const joins =
      group !== undefined &&
      sample.decodeTicks === group.nextDecodeTicks &&
      ptsTicks - group.ptsTicks < audioPesSpanTicks &&
      group.bytes + frame.length <= maxPesPacketLength - 8;
    if (group === undefined || !joins) {
      close();
      group = { ptsTicks, frames: [], bytes: 0, nextDecodeTicks: 0 };
    }
    group.frames.push(frame);
    group.bytes += frame.length;
    group.nextDecodeTicks = sample.decodeTicks + sample.durationTicks;
  }
  close();
  return units;
};

/** ADTS header (ISO/IEC 14496-3 §1.A.2.2): MPEG-4, no CRC, one raw data block, buffer fullness 0x7ff (VBR). */
const adtsFrame = (audio: TsAudioConfig, segment: Uint8Array, sample: FragmentSample): Uint8Array => {
  const length = sample.size + 7;
  if (length > 0x1fff)
    throw new ParseError(`AAC frame of ${sample.size} bytes is too long for ADTS`, sample.dataStart);
  const frame = new Uint8Array(length);
  const channels = audio.channelConfiguration;
  frame[0] = 0xff;
  frame[1] = 0xf1;
  frame[2] = (audio.adtsProfile << 6) | (audio.samplingFrequencyIndex << 2) | (channels >> 2);
  frame[3] = ((channels & 0x03) << 6) | (length >> 11);
  frame[4] = (length >> 3) & 0xff;
  frame[5] = ((length & 0x07) << 5) | 0x1f;
  frame[6] = 0xfc;
  frame.set(segment.subarray(sample.dataStart, sample.dataStart + sample.size), 7);
  return frame;
};

const concatBytes = (parts: readonly Uint8Array[], total: number): Uint8Array => {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/** PCR for a PES decoded at `dtsTicks`: `pcrLeadTicks` earlier, but never below 0 unless the DTS itself is. */
const pcrFor = (dtsTicks: number): number =>
  dtsTicks >= pcrLeadTicks ? dtsTicks - pcrLeadTicks : Math.min(dtsTicks, 0);

const wrap33 = (ticks: number): number => ((ticks % timestampModulus) + timestampModulus) % timestampModulus;

/** PAT (ISO/IEC 13818-1 §2.4.4.3): program 1 → PMT PID. */
const patSection = (): Uint8Array =>
  withCrc([0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (pmtPid >> 8), pmtPid & 0xff]);

/** PMT (ISO/IEC 13818-1 §2.4.4.8): PCR PID and one entry per elementary stream, no descriptors. */
const pmtSection = (config: TsRemuxConfig): Uint8Array => {
  const pcrPid = config.video === undefined ? audioPid : videoPid;
  const streams: number[] = [];
  if (config.video !== undefined) streams.push(0x1b, 0xe0 | (videoPid >> 8), videoPid & 0xff, 0xf0, 0x00);
  if (config.audio !== undefined) streams.push(0x0f, 0xe0 | (audioPid >> 8), audioPid & 0xff, 0xf0, 0x00);
  const sectionLength = 9 + streams.length + 4;
  return withCrc([
    ...[0x02, 0xb0 | (sectionLength >> 8), sectionLength & 0xff, 0x00, 0x01, 0xc1, 0x00, 0x00],
    ...[0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00, ...streams],
  ]);
};

/** Appends the section's CRC_32 (ISO/IEC 13818-1 Annex A: polynomial 0x04c11db7, no reflection, start 0xffffffff). */
const withCrc = (section: readonly number[]): Uint8Array => {
  let crc = 0xffffffff;
  for (const byte of section) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  crc >>>= 0;
  return Uint8Array.from([...section, crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
};

/** PTS or DTS field (ISO/IEC 13818-1 §2.4.3.7): 4-bit prefix, 33 bits split 3/15/15 with marker bits. */
const writeTimestamp = (out: Uint8Array, at: number, prefix: number, ticks: number): void => {
  const value = wrap33(ticks);
  const high = Math.floor(value / 2 ** 30);
  const low = value % 2 ** 30;
  out[at] = (prefix << 4) | (high << 1) | 1;
  out[at + 1] = (low >>> 22) & 0xff;
  out[at + 2] = ((low >>> 14) & 0xfe) | 1;
  out[at + 3] = (low >>> 7) & 0xff;
  out[at + 4] = ((low << 1) & 0xfe) | 1;
};

/** A PES packet (ISO/IEC 13818-1 §2.4.3.6): data_alignment_indicator set, DTS only when it differs from PTS. */
const pesPacket = (unit: PesUnit): Uint8Array => {
  const hasDts = unit.dtsTicks !== unit.ptsTicks;
  const headerDataLength = hasDts ? 10 : 5;
  const out = new Uint8Array(9 + headerDataLength + unit.data.length);
  const packetLength = 3 + headerDataLength + unit.data.length;
  // 0 ("unbounded") is allowed only for video in a transport stream (§2.4.3.7); audio PES are kept smaller.
  const lengthField = packetLength > maxPesPacketLength ? 0 : packetLength;
  out.set([
    0,
    0,
    1,
    unit.streamId,
    lengthField >> 8,
    lengthField & 0xff,
    0x84,
    hasDts ? 0xc0 : 0x80,
    headerDataLength,
  ]);
  writeTimestamp(out, 9, hasDts ? 0x3 : 0x2, unit.ptsTicks);
  if (hasDts) writeTimestamp(out, 14, 0x1, unit.dtsTicks);
  out.set(unit.data, 9 + headerDataLength);
  return out;
};

/** Transport packets (ISO/IEC 13818-1 §2.4.3.2) with per-PID continuity counters and the PCR schedule. */
class TsWriter {
  readonly #packets: Uint8Array[] = [];
  /** Last continuity_counter used per PID; 15 so that the first packet with a payload carries 0. */
  readonly #counters = new Map<number, number>();
  readonly #pcrPid: number;
  #lastPcr: number | undefined;

  constructor(pcrPid: number) {
    this.#pcrPid = pcrPid;
  }

  /** One PSI section in one packet: pointer_field 0, then 0xff fill (§2.4.4: stuffing after the section). */
  psi(pid: number, section: Uint8Array): void {
    const packet = this.#header(pid, true, 0x10, this.#nextCounter(pid));
    packet.fill(0xff, 4);
    packet[4] = 0;
    packet.set(section, 5);
  }

  /**
   * A PES, after PCR-only packets if the PCR would otherwise step more than 100 ms; the first packet of a PES on
   * the PCR PID carries the PCR, and random_access_indicator when the PES starts at a keyframe.
   */
  pes(unit: PesUnit): void {
    const pcr = pcrFor(unit.dtsTicks);
    this.fillPcr(pcr);
    const carriesPcr = unit.pid === this.#pcrPid;
    if (!carriesPcr && this.#lastPcr === undefined) this.#pcrOnly(pcr);
    if (carriesPcr) this.#lastPcr = pcr;
    const payload = pesPacket(unit);
    let at = this.#payloadPacket(unit.pid, payload, 0, carriesPcr ? pcr : undefined, unit.randomAccess);
    while (at < payload.length) at = this.#payloadPacket(unit.pid, payload, at, undefined, false);
  }

  /** PCR-only packets 100 ms apart from the last PCR up to `pcr` (exclusive); none before the first PCR. */
  fillPcr(pcr: number): void {
    const last = this.#lastPcr;
    if (last === undefined || pcr - last <= pcrIntervalTicks || pcr - last > maxPcrFillTicks) return;
    for (let fill = last + pcrIntervalTicks; fill < pcr; fill += pcrIntervalTicks) this.#pcrOnly(fill);
  }

  bytes(): Uint8Array {
    return concatBytes(this.#packets, this.#packets.length * packetSize);
  }

  #nextCounter(pid: number): number {
    const counter = ((this.#counters.get(pid) ?? 15) + 1) & 0x0f;
    this.#counters.set(pid, counter);
    return counter;
  }

  #header(pid: number, unitStart: boolean, control: number, counter: number): Uint8Array {
    const packet = new Uint8Array(packetSize);
    packet[0] = 0x47;
    packet[1] = (unitStart ? 0x40 : 0) | (pid >> 8);
    packet[2] = pid & 0xff;
    packet[3] = control | counter;
    this.#packets.push(packet);
    return packet;
  }

  /** An adaptation-field-only packet with a PCR; the continuity counter does not advance without a payload. */
  #pcrOnly(pcr: number): void {
    const packet = this.#header(this.#pcrPid, false, 0x20, this.#counters.get(this.#pcrPid) ?? 15);
    packet.fill(0xff, 4);
    packet[4] = 183;
    packet[5] = 0x10;
    writePcr(packet, 6, pcr);
    this.#lastPcr = pcr;
  }

  /**
   * One packet of `payload` from `at`; returns where the next packet starts. The adaptation field holds the PCR
   * and random_access_indicator when given, and is padded with 0xff so that a short last piece fills the packet
   * (one byte of padding is an adaptation field of length 0).
   */
  #payloadPacket(
    pid: number,
    payload: Uint8Array,
    at: number,
    pcr: number | undefined,
    randomAccess: boolean,
  ): number {
    const fieldBody = pcr !== undefined || randomAccess ? 1 + (pcr === undefined ? 0 : 6) : 0;
    const space = packetSize - 4 - (fieldBody > 0 ? 1 + fieldBody : 0);
    const take = Math.min(space, payload.length - at);
    const padding = space - take;
    const hasField = fieldBody > 0 || padding > 0;
    const fieldLength = fieldBody > 0 ? fieldBody + padding : padding - 1;
    const packet = this.#header(pid, at === 0, hasField ? 0x30 : 0x10, this.#nextCounter(pid));
    if (hasField) {
      packet[4] = fieldLength;
      if (fieldLength > 0) {
        packet.fill(0xff, 5, 5 + fieldLength);
        packet[5] = (randomAccess ? 0x40 : 0) | (pcr === undefined ? 0 : 0x10);
        if (pcr !== undefined) writePcr(packet, 6, pcr);
      }
    }
    packet.set(payload.subarray(at, at + take), packetSize - take);
    return at + take;
  }
}

/** program_clock_reference (§2.4.3.5): 33-bit base in 90 kHz, 6 reserved bits, 9-bit extension 0. */
const writePcr = (packet: Uint8Array, at: number, ticks: number): void => {
  const base = wrap33(ticks);
  packet[at] = Math.floor(base / 2 ** 25) & 0xff;
  packet[at + 1] = Math.floor(base / 2 ** 17) & 0xff;
  packet[at + 2] = Math.floor(base / 2 ** 9) & 0xff;
  packet[at + 3] = Math.floor(base / 2) & 0xff;
  packet[at + 4] = ((base % 2) << 7) | 0x7e;
  packet[at + 5] = 0;
};
