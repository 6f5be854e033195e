/**
 * The ffmpeg command lines of the media pipeline, built by pure functions so they can be tested and read.
 * Times are on the channel clock, in seconds; `-copyts` keeps them through ffmpeg.
 */
import type { HlsVariant } from '../channel/channel-spec.ts';
import { forceKeyframesExpression, type SegmentSchedule } from '../hls/segment-schedule.ts';

export interface Canvas {
  width: number;
  height: number;
  fps: number;
}

export const sampleRate = 48_000;
export const audioChannels = 2;

export interface DecoderArgsInput {
  hasVideo: boolean;
  hasAudio: boolean;
  /**
   * The first output frame (and audio sample) is at this channel time: the first video frame's time (as written,
   * in whole ms) rounded down to the canvas frame grid.
   */
  startSeconds: number;
  /** Output size: the picture is scaled to fit, aspect kept, and letterboxed. */
  width: number;
  height: number;
  fps: number;
  /** Where the pictures go: a unix socket path the decoder listens on (raw-frames.ts reads it). */
  videoSocket: string;
}

/**
 * A publisher's pictures as the canvas shows them: scaled to fit, aspect kept, letterboxed, at the canvas rate
 * (frame i at the first frame's time rounded down to the frame grid, plus i/fps; gaps filled by repeating).
 */
function fitFilters({ width, height, fps }: Canvas): string[] {
  return [
    `scale=${width}:${height}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bilinear`,
    `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=black`,
    'format=yuv420p',
    // Last, so a picture repeated to fill the rate (a 15 fps publisher on a 30 fps canvas, a gap while video is
    // dropped) is scaled once, not once per copy; the output is byte for byte the same (measured: 15 fps to
    // 1280x720@30, 20 % less CPU).
    // No start_time: with -copyts it made the filter's cost grow with the stream's age (0.76 cores after 30 min).
    // Rounding down puts output frame i at floor(first × fps)/fps + i/fps.
    `fps=fps=${fps}:round=down`,
  ];
}

/**
 * Decoder: Matroska with the publisher's encoded frames on stdin; raw I420 video frames of the output size at a
 * constant rate on stdout (frame i at startSeconds + i/fps, gaps filled by repeating), and s16le 48 kHz stereo on
 * pipe 3 (sample j at startSeconds + j/48000, gaps filled with silence, overlaps trimmed).
 */
export function decoderArgs(input: DecoderArgsInput): string[] {
  const args = ['-hide_banner', '-nostats', '-loglevel', 'warning', '-copyts'];
  // A small probe: Matroska's header names the codecs; the default analysis (5 s) would delay the first picture.
  // One decoding thread: ffmpeg's frame threads (three on two cores) hold each picture back two frames (measured:
  // pictures reached the mixer 100 ms later, with a tail past 200 ms), and one thread decodes a browser's 720p
  // many times faster than real time.
  args.push('-threads', '1');
  args.push('-probesize', '32768', '-analyzeduration', '100000', '-f', 'matroska', '-i', 'pipe:0');
  if (input.hasVideo) {
    const filters = fitFilters(input);
    args.push(
      '-map',
      '0:v:0',
      '-vf',
      filters.join(','),
      '-f',
      'rawvideo',
      '-listen',
      '1',
      `unix:${input.videoSocket}`,
    );
  }
  if (input.hasAudio) {
    const firstSample = Math.round(input.startSeconds * sampleRate);
    // The raw PCM carries no timestamps, so a gap (a lost Opus packet, 20 ms) must become silence here or the
    // sound after it runs early. aresample only pads gaps past min_hard_comp (default 100 ms); 10 ms catches one
    // packet. Measured with 10 % loss: the beeps of a sync source ran up to 82 ms ahead of their flashes with the
    // default, within a frame of them with this.
    args.push('-map', '0:a:0', '-af', `aresample=async=1:min_hard_comp=0.01:first_pts=${firstSample}`);
    args.push('-ac', String(audioChannels), '-ar', String(sampleRate), '-f', 's16le', 'pipe:3');
  }
  return args;
}

const x264Profiles = { h264_high: 'high', h264_main: 'main', h264_baseline: 'baseline' } as const;

export interface EncoderArgsInput {
  variants: readonly HlsVariant[];
  partSeconds: number;
  /** Where segments begin: a keyframe is forced there in every variant. */
  schedule: SegmentSchedule;
  /** x264 preset: speed against quality. */
  preset: string;
}

/**
 * Encoder: Matroska with raw I420 video and s16le audio on stdin, one fMP4 (CMAF) stream per variant on pipes
 * 3, 4, …: H.264 (x264, no B-frames, zero latency, VBV so the rate holds) + AAC-LC. Output times start at 0 for
 * each run. Keyframes are forced at the same instants in every variant (the schedule's boundaries from the
 * run's start), so segments line up across variants; fragments
 * (the LL-HLS parts) are cut at every keyframe and every `partSeconds`.
 */
export function encoderArgs(input: EncoderArgsInput): string[] {
  // No -copyts: the output starts at 0 for every encoder run; the packager adds the run's start time.
  const args = ['-hide_banner', '-nostats', '-loglevel', 'warning'];
  args.push('-probesize', '32768', '-analyzeduration', '100000', '-f', 'matroska', '-i', 'pipe:0');
  args.push('-filter_complex', variantFilters('[0:v]', input.variants).join(';'));
  args.push(...variantOutputArgs(input));
  return args;
}

/** The canvas (filter pad `source`) split into one picture per variant, labelled [v0], [v1], …. */
function variantFilters(source: string, variants: readonly HlsVariant[]): string[] {
  const split = `${source}split=${variants.length}${variants.map((_, index) => `[sv${index}]`).join('')}`;
  const scales = variants.map(
    (variant, index) =>
      `[sv${index}]scale=${variant.video.width}:${variant.video.height}:flags=bicubic,setsar=1[v${index}]`,
  );
  return [split, ...scales];
}

/** Every variant's encoding and fMP4 output, of pictures [v0], [v1], … and the input's first sound. */
function variantOutputArgs(input: EncoderArgsInput): string[] {
  const { variants } = input;
  const segment = input.schedule.segmentSeconds;
  const args: string[] = [];
  const forceKeyframes = forceKeyframesExpression(input.schedule);
  variants.forEach((variant, index) => {
    const { video, audio } = variant;
    const gop = Math.round(video.fps * segment);
    args.push('-map', `[v${index}]`, '-map', '0:a:0');
    args.push('-fps_mode', 'cfr', '-r', String(video.fps));
    args.push(
      '-c:v',
      'libx264',
      '-preset',
      input.preset,
      '-tune',
      'zerolatency',
      '-profile:v',
      x264Profiles[video.codec],
    );
    args.push(
      '-pix_fmt',
      'yuv420p',
      '-bf',
      '0',
      '-g',
      String(gop * 2),
      '-keyint_min',
      String(gop),
      '-sc_threshold',
      '0',
    );
    args.push('-force_key_frames', forceKeyframes);
    args.push('-b:v', String(video.bps), '-maxrate', String(video.bps), '-bufsize', String(video.bps));
    // Sound missing from the input (the mixer skipped ahead after the process stalled past a second) becomes
    // silence: without this, the AAC track had a hole as long as the stall (measured: 1.57 s after a 1.6 s stall),
    // which players must bridge. A gap of one packet (10 ms) is enough, as in the decoder.
    args.push('-filter:a', 'aresample=async=1:min_hard_comp=0.01:first_pts=0');
    args.push(
      '-c:a',
      'aac',
      '-b:a',
      String(audio.bps),
      '-ar',
      String(sampleRate),
      '-ac',
      String(audioChannels),
    );
    args.push('-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf');
    args.push('-frag_duration', String(Math.round(input.partSeconds * 1_000_000)), `pipe:${3 + index}`);
  });
  return args;
}

export interface DirectArgsInput extends EncoderArgsInput {
  canvas: Canvas;
}

/**
 * Direct: one publisher to every variant in one ffmpeg, what the decoder and the encoder do for a channel with one
 * publisher, without its pictures passing through Node. Matroska with the publisher's encoded frames on stdin, their
 * times counted from the run's start (a point of the canvas frame grid, so output frame i is at i/fps, as in the
 * decoder); the pictures fitted to the canvas as the decoder fits them, then encoded as the encoder encodes them,
 * one fMP4 stream per variant on pipes 3, 4, ….
 */
export function directArgs(input: DirectArgsInput): string[] {
  const args = ['-hide_banner', '-nostats', '-loglevel', 'warning', '-copyts'];
  // One decoding thread, as in the decoder (decoderArgs says why); x264 keeps its own threads.
  args.push('-threads', '1');
  args.push('-probesize', '32768', '-analyzeduration', '100000', '-f', 'matroska', '-i', 'pipe:0');
  const fitted = `[0:v:0]${fitFilters(input.canvas).join(',')},`;
  args.push('-filter_complex', variantFilters(fitted, input.variants).join(';'));
  args.push(...variantOutputArgs(input));
  return args;
}
