/**
 * Reads the timing of one CMAF fragment / fMP4 movie fragment (moof + mdat, ISO/IEC 14496-12 §8.8): for each
 * track its decode start (tfdt), duration and sample count (trun, with tfhd and trex defaults) and whether its
 * first sample is a sync sample — what the packager needs to cut segments and parts and to mark INDEPENDENT=YES.
 */
import { ParseError } from '../../rtp/parse-error.ts';
import type { InitInfo } from './fmp4-init.ts';
import { FieldReader, childBoxes, findBox, listBoxes, requireBox, type Box } from './mp4-box.ts';

export interface FragmentTrack {
  readonly trackId: number;
  /** `tfdt` baseMediaDecodeTime, in the track's timescale. */
  readonly baseMediaDecodeTime: number;
  readonly timescale: number;
  /** Sum of this fragment's sample durations for the track, in its timescale. */
  readonly durationTicks: number;
  readonly sampleCount: number;
  /** The first sample's sample_is_non_sync_sample flag is clear (ISO/IEC 14496-12 §8.8.3.1). */
  readonly firstSampleIsSync: boolean;
}

export interface FragmentInfo {
  /** `mfhd` sequence_number (ISO/IEC 14496-12 §8.8.5). */
  readonly sequenceNumber: number;
  readonly tracks: readonly FragmentTrack[];
  /**
   * Decode start and duration of the video track, or of the first track when the fragment has no video (an
   * audio-only stream, or the audio tail ffmpeg writes after the last video frame). Decode time: with B-frames
   * the first presentation time is later by the composition offset.
   */
  readonly startSeconds: number;
  readonly durationSeconds: number;
  /**
   * The fragment starts with a video sync sample and can be decoded on its own. For an audio-only stream, the
   * first track's first sample is sync; a fragment with no video in a stream that has video is not independent.
   */
  readonly independent: boolean;
}

/** sample_is_non_sync_sample in the sample flags word (ISO/IEC 14496-12 §8.8.3.1). */
const nonSyncSampleFlag = 0x00010000;

// tfhd flags (ISO/IEC 14496-12 §8.8.7.1).
const tfhdBaseDataOffset = 0x000001;
const tfhdSampleDescriptionIndex = 0x000002;
const tfhdDefaultDuration = 0x000008;
const tfhdDefaultSize = 0x000010;
const tfhdDefaultFlags = 0x000020;
const tfhdDefaultBaseIsMoof = 0x020000;

// trun flags (ISO/IEC 14496-12 §8.8.8.1).
const trunDataOffset = 0x000001;
const trunFirstSampleFlags = 0x000004;
const trunSampleDuration = 0x000100;
const trunSampleSize = 0x000200;
const trunSampleFlags = 0x000400;
const trunCompositionOffset = 0x000800;

interface TrafDefaults {
  readonly trackId: number;
  readonly timescale: number;
  readonly durationTicks: number;
  readonly flags: number;
  readonly sampleSize: number;
  /** tfhd base_data_offset when present (Infinity when it does not fit in 53 bits). */
  readonly baseDataOffset: number | undefined;
  /** tfhd default-base-is-moof (ISO/IEC 14496-12 §8.8.7.1). */
  readonly baseIsMoof: boolean;
}

interface RunSummary {
  readonly durationTicks: number;
  readonly sampleCount: number;
  /** Flags of the run's first sample, when the run has samples. */
  readonly firstSampleFlags: number | undefined;
}

/**
 * Parses the moof of a fragment unit (optional styp/prft/emsg first, then moof, then mdat) against its init.
 * Malformed input throws ParseError; `bytes` is never written.
 */
export const parseFragment = (bytes: Uint8Array, init: InitInfo): FragmentInfo => {
  const top = listBoxes(bytes, 0, bytes.length);
  const moof = requireBox(top, 'moof', 0);
  const moofChildren = childBoxes(bytes, moof);
  const sequenceNumber = readMfhd(bytes, requireBox(moofChildren, 'mfhd', moof));
  const byTrack = new Map<number, FragmentTrack>();
  for (const traf of moofChildren.filter((box) => box.type === 'traf')) {
    const track = readTraf(bytes, traf, init);
    const earlier = byTrack.get(track.trackId);
    // Several trafs of one track in a moof (allowed by §8.8.6) add up; the first one holds the start.
    byTrack.set(track.trackId, earlier === undefined ? track : mergeTrafs(earlier, track));
  }
  const tracks = [...byTrack.values()];
  const videoTrackId = init.tracks.find((track) => track.handler === 'vide')?.trackId;
  const video = tracks.find((track) => track.trackId === videoTrackId);
  const primary = video ?? tracks[0];
  if (primary === undefined) throw new ParseError("'moof' has no 'traf'", moof.start);
  return {
    sequenceNumber,
    tracks,
    startSeconds: primary.baseMediaDecodeTime / primary.timescale,
    durationSeconds: primary.durationTicks / primary.timescale,
    // A stream with video is independent only where a video sync sample starts; ffmpeg ends a stream with an
    // audio-only fragment (the audio that outlasts the last video frame), which no segment should start with.
    independent: videoTrackId === undefined || video !== undefined ? primary.firstSampleIsSync : false,
  };
};

const mergeTrafs = (first: FragmentTrack, next: FragmentTrack): FragmentTrack => ({
  ...first,
  durationTicks: first.durationTicks + next.durationTicks,
  sampleCount: first.sampleCount + next.sampleCount,
  firstSampleIsSync: first.sampleCount > 0 ? first.firstSampleIsSync : next.firstSampleIsSync,
});

const readMfhd = (bytes: Uint8Array, mfhd: Box): number => {
  const r = FieldReader.of(bytes, mfhd);
  r.fullBox('mfhd');
  return r.u32('mfhd sequence_number');
};

const readTraf = (bytes: Uint8Array, traf: Box, init: InitInfo): FragmentTrack => {
  const children = childBoxes(bytes, traf);
  const defaults = readTfhd(bytes, requireBox(children, 'tfhd', traf), init);
  const { trackId } = defaults;
  const tfdt = findBox(children, 'tfdt');
  // CMAF (ISO/IEC 23000-19 §7.3.2.3) requires tfdt in every traf; without it the start is unknown.
  if (tfdt === undefined) throw new ParseError(`traf for track ${trackId} has no 'tfdt'`, traf.start);
  const baseMediaDecodeTime = readTfdt(bytes, tfdt);
  let durationTicks = 0;
  let sampleCount = 0;
  let firstSampleFlags: number | undefined;
  for (const trun of children.filter((box) => box.type === 'trun')) {
    const run = readTrun(bytes, trun, defaults);
    durationTicks += run.durationTicks;
    sampleCount += run.sampleCount;
    firstSampleFlags ??= run.firstSampleFlags;
  }
  return {
    trackId,
    baseMediaDecodeTime,
    timescale: defaults.timescale,
    durationTicks,
    sampleCount,
    firstSampleIsSync: firstSampleFlags !== undefined && (firstSampleFlags & nonSyncSampleFlag) === 0,
  };
};

/** `tfhd` (ISO/IEC 14496-12 §8.8.7): defaults for this traf, falling back to the init's `trex`. */
const readTfhd = (bytes: Uint8Array, tfhd: Box, init: InitInfo): TrafDefaults => {
  const r = FieldReader.of(bytes, tfhd);
  const { flags } = r.fullBox('tfhd');
  const trackId = r.u32('tfhd track_ID');
  const initTrack = init.tracks.find((track) => track.trackId === trackId);
  if (initTrack === undefined) throw new ParseError(`traf for track ${trackId}, not in the init`, tfhd.start);
  let baseDataOffset: number | undefined;
  if ((flags & tfhdBaseDataOffset) !== 0) {
    // Two 32-bit reads rather than u64(): the same bytes and failure points as skipping the field.
    const high = r.u32('tfhd base_data_offset');
    const low = r.u32('tfhd base_data_offset');
    baseDataOffset = high >= 0x200000 ? Infinity : high * 0x1_0000_0000 + low;
  }
  if ((flags & tfhdSampleDescriptionIndex) !== 0) r.skip(4, 'tfhd sample_description_index');
  const durationTicks =
    (flags & tfhdDefaultDuration) !== 0
      ? r.u32('tfhd default_sample_duration')
      : initTrack.defaults.sampleDurationTicks;
  const sampleSize =
    (flags & tfhdDefaultSize) !== 0 ? r.u32('tfhd default_sample_size') : initTrack.defaults.sampleSize;
  const sampleFlags =
    (flags & tfhdDefaultFlags) !== 0 ? r.u32('tfhd default_sample_flags') : initTrack.defaults.sampleFlags;
  return {
    trackId,
    timescale: initTrack.timescale,
    durationTicks,
    flags: sampleFlags,
    sampleSize,
    baseDataOffset,
    baseIsMoof: (flags & tfhdDefaultBaseIsMoof) !== 0,
  };
};

/** `tfdt` (ISO/IEC 14496-12 §8.8.12): a 32-bit (version 0) or 64-bit (version 1) baseMediaDecodeTime. */
const readTfdt = (bytes: Uint8Array, tfdt: Box): number => {
  const r = FieldReader.of(bytes, tfdt);
  const { version } = r.fullBox('tfdt');
  return version === 1 ? r.u64('tfdt baseMediaDecodeTime') : r.u32('tfdt baseMediaDecodeTime');
};

/**
 * `trun` (ISO/IEC 14496-12 §8.8.8): sums sample durations (per sample, else the tfhd/trex default) and finds the
 * first sample's flags: first_sample_flags, else its own sample_flags, else the default flags.
 */
const readTrun = (bytes: Uint8Array, trun: Box, defaults: TrafDefaults): RunSummary => {
  const r = FieldReader.of(bytes, trun);
  const { flags } = r.fullBox('trun');
  const countAt = r.offset;
  const sampleCount = r.u32('trun sample_count');
  if ((flags & trunDataOffset) !== 0) r.skip(4, 'trun data_offset');
  const firstFlags = (flags & trunFirstSampleFlags) !== 0 ? r.u32('trun first_sample_flags') : undefined;
  const fields = [trunSampleDuration, trunSampleSize, trunSampleFlags, trunCompositionOffset];
  const perSample = 4 * fields.filter((bit) => (flags & bit) !== 0).length;
  // Check the whole table fits before walking it, so a huge sample_count fails fast instead of looping.
  if (perSample * sampleCount > r.remaining) {
    throw new ParseError(
      `trun declares ${sampleCount} samples, more than its ${r.remaining} bytes hold`,
      countAt,
    );
  }
  if (sampleCount === 0) return { durationTicks: 0, sampleCount, firstSampleFlags: undefined };
  let durationTicks = 0;
  let firstSampleFlags = firstFlags ?? defaults.flags;
  for (let i = 0; i < sampleCount; i++) {
    durationTicks +=
      (flags & trunSampleDuration) !== 0 ? r.u32('trun sample_duration') : defaults.durationTicks;
    if ((flags & trunSampleSize) !== 0) r.skip(4, 'trun sample_size');
    if ((flags & trunSampleFlags) !== 0) {
      const sampleFlags = r.u32('trun sample_flags');
      if (i === 0 && firstFlags === undefined) firstSampleFlags = sampleFlags;
    }
    if ((flags & trunCompositionOffset) !== 0) r.skip(4, 'trun sample_composition_time_offset');
  }
  return { durationTicks, sampleCount, firstSampleFlags };
};

/** One sample of a movie fragment and where its bytes are (ISO/IEC 14496-12 §8.8.8). */
export interface FragmentSample {
  /** Decode time in the track's timescale: the traf's tfdt plus the durations of the samples before it. */
  readonly decodeTicks: number;
  readonly durationTicks: number;
  /** Presentation time minus decode time, in the track's timescale; negative only with trun version 1. */
  readonly compositionOffsetTicks: number;
  /** sample_is_non_sync_sample is clear (§8.8.3.1). */
  readonly isSync: boolean;
  /** The sample is `[dataStart, dataStart + size)` of the bytes given, inside the mdat's payload. */
  readonly dataStart: number;
  readonly size: number;
}

export interface FragmentTrackSamples {
  readonly trackId: number;
  readonly timescale: number;
  /** In decode order; several trafs of one track are joined in the order of the moof. */
  readonly samples: readonly FragmentSample[];
}

/**
 * Every sample of one movie fragment, per track, with its size, duration, flags, composition offset and byte
 * position: what a remuxer needs beyond parseFragment's summary. `moof` and `mdat` are boxes located in `bytes`
 * (listBoxes) and every sample must lie inside the mdat's payload. Data offsets (§8.8.7.1, §8.8.8.1): the tfhd
 * base_data_offset when present (an offset into `bytes`, which stands for the whole file), else the moof start
 * with default-base-is-moof or for the first traf, else the end of the previous traf's data; a trun without
 * data_offset continues where the previous run of the traf ended. Malformed input throws ParseError.
 */
export const readFragmentSamples = (
  bytes: Uint8Array,
  moof: Box,
  mdat: Box,
  init: InitInfo,
): FragmentTrackSamples[] => {
  const byTrack = new Map<number, { trackId: number; timescale: number; samples: FragmentSample[] }>();
  let previousTrafEnd = moof.start;
  for (const traf of childBoxes(bytes, moof).filter((box) => box.type === 'traf')) {
    const children = childBoxes(bytes, traf);
    const defaults = readTfhd(bytes, requireBox(children, 'tfhd', traf), init);
    const { trackId, timescale } = defaults;
    const tfdt = findBox(children, 'tfdt');
    if (tfdt === undefined) throw new ParseError(`traf for track ${trackId} has no 'tfdt'`, traf.start);
    const base = defaults.baseDataOffset ?? (defaults.baseIsMoof ? moof.start : previousTrafEnd);
    const cursor: RunCursor = { decodeTicks: readTfdt(bytes, tfdt), dataAt: base };
    let track = byTrack.get(trackId);
    if (track === undefined) {
      track = { trackId, timescale, samples: [] };
      byTrack.set(trackId, track);
    }
    for (const trun of children.filter((box) => box.type === 'trun')) {
      readTrunSamples(bytes, trun, { defaults, mdat, base, cursor }, track.samples);
    }
    previousTrafEnd = cursor.dataAt;
  }
  return [...byTrack.values()];
};

/** Decode time and data position of the next sample of a traf, advanced run by run. */
interface RunCursor {
  decodeTicks: number;
  dataAt: number;
}

interface RunContext {
  readonly defaults: TrafDefaults;
  readonly mdat: Box;
  /** The traf's base data offset, to which a trun data_offset is added. */
  readonly base: number;
  readonly cursor: RunCursor;
}

/** `trun` (§8.8.8) sample by sample; version 1 makes the composition offsets signed (§8.8.8.3). */
const readTrunSamples = (bytes: Uint8Array, trun: Box, run: RunContext, out: FragmentSample[]): void => {
  const { defaults, mdat, cursor } = run;
  const r = FieldReader.of(bytes, trun);
  const { version, flags } = r.fullBox('trun');
  const countAt = r.offset;
  const sampleCount = r.u32('trun sample_count');
  if ((flags & trunDataOffset) !== 0) cursor.dataAt = run.base + (r.u32('trun data_offset') | 0);
  const firstFlags = (flags & trunFirstSampleFlags) !== 0 ? r.u32('trun first_sample_flags') : undefined;
  const fields = [trunSampleDuration, trunSampleSize, trunSampleFlags, trunCompositionOffset];
  const perSample = 4 * fields.filter((bit) => (flags & bit) !== 0).length;
  // Both bounds before walking the table: a huge sample_count fails fast instead of looping or allocating.
  if (perSample * sampleCount > r.remaining || sampleCount > mdat.end - mdat.contentStart) {
    throw new ParseError(
      `trun declares ${sampleCount} samples, more than its ${r.remaining} bytes or the mdat can hold`,
      countAt,
    );
  }
  for (let i = 0; i < sampleCount; i++) {
    const entryAt = r.offset;
    const durationTicks =
      (flags & trunSampleDuration) !== 0 ? r.u32('trun sample_duration') : defaults.durationTicks;
    const size = (flags & trunSampleSize) !== 0 ? r.u32('trun sample_size') : defaults.sampleSize;
    const ownFlags = (flags & trunSampleFlags) !== 0 ? r.u32('trun sample_flags') : defaults.flags;
    const sampleFlags = i === 0 && firstFlags !== undefined ? firstFlags : ownFlags;
    let compositionOffsetTicks = 0;
    if ((flags & trunCompositionOffset) !== 0) {
      const raw = r.u32('trun sample_composition_time_offset');
      compositionOffsetTicks = version === 0 ? raw : raw | 0;
    }
    const dataStart = cursor.dataAt;
    if (dataStart < mdat.contentStart || dataStart + size > mdat.end) {
      throw new ParseError(
        `sample ${i} of track ${defaults.trackId} at bytes [${dataStart}, ${dataStart + size}) lies outside ` +
          `the 'mdat' payload [${mdat.contentStart}, ${mdat.end})`,
        entryAt,
      );
    }
    out.push({
      decodeTicks: cursor.decodeTicks,
      durationTicks,
      compositionOffsetTicks,
      isSync: (sampleFlags & nonSyncSampleFlag) === 0,
      dataStart,
      size,
    });
    cursor.decodeTicks += durationTicks;
    cursor.dataAt = dataStart + size;
  }
};
