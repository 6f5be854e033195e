/**
 * Real fMP4 fixtures made by ffmpeg at test time (no binaries in the repository), what ffprobe and ffmpeg's
 * trace_headers bitstream filter say about them, and a tiny ISO BMFF box builder for hand-made cases.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FixtureSpec {
  readonly name: string;
  /** x264 profile, or undefined for an audio-only (Opus) stream. */
  readonly profile?: 'baseline' | 'main' | 'high';
  readonly bFrames?: number;
  readonly fragDurationUs: number;
}

export interface Fixture {
  readonly spec: FixtureSpec;
  readonly bytes: Uint8Array;
  readonly probe: Probe;
}

export interface ProbeStream {
  readonly codec_type: string;
  readonly profile?: string;
  readonly level?: number;
  readonly width?: number;
  readonly height?: number;
  readonly sample_rate?: string;
  readonly channels?: number;
  readonly time_base: string;
  readonly duration: string;
}

export interface Probe {
  readonly streams: readonly ProbeStream[];
  /** Video packets in decode order: decode time in the stream's time base, and the keyframe flag. */
  readonly videoPackets: readonly { readonly dts: number; readonly key: boolean }[];
  /** The three avcC bytes read back from the first SPS by ffmpeg's own bitstream parser. */
  readonly sps?: { readonly profileIdc: number; readonly constraintFlags: number; readonly levelIdc: number };
}

/** The brief's encoder settings: 640x360 at 30 fps, 48 kHz sine, 4 s, a keyframe every 2 s, CMAF fragments. */
const encodeArgs = (spec: FixtureSpec, out: string): string[] => {
  const fragmentArgs = [
    '-f',
    'mp4',
    '-movflags',
    '+frag_keyframe+empty_moov+default_base_moof+cmaf',
    '-frag_duration',
    String(spec.fragDurationUs),
    out,
  ];
  const audio = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
  if (spec.profile === undefined) {
    return [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      ...audio,
      '-t',
      '2',
      '-c:a',
      'libopus',
      ...fragmentArgs,
    ];
  }
  return [
    ...[
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30',
      ...audio,
    ],
    ...['-t', '4', '-c:v', 'libx264', '-profile:v', spec.profile, '-g', '60', '-keyint_min', '60'],
    ...[
      '-sc_threshold',
      '0',
      '-bf',
      String(spec.bFrames ?? 0),
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      ...fragmentArgs,
    ],
  ];
};

export const makeFixture = async (dir: string, spec: FixtureSpec): Promise<Fixture> => {
  const path = join(dir, `${spec.name}.mp4`);
  await run('ffmpeg', encodeArgs(spec, path));
  const bytes = new Uint8Array(await readFile(path));
  return { spec, bytes, probe: await probe(path, spec.profile !== undefined) };
};

const probe = async (path: string, hasVideo: boolean): Promise<Probe> => {
  const streams = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
  const parsed = JSON.parse(streams.stdout) as { streams: ProbeStream[] };
  if (!hasVideo) return { streams: parsed.streams, videoPackets: [] };
  const packets = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts,flags', '-of', 'json', path],
  ]);
  const list = (JSON.parse(packets.stdout) as { packets: { dts: number; flags: string }[] }).packets;
  return {
    streams: parsed.streams,
    videoPackets: list.map((p) => ({ dts: p.dts, key: p.flags.startsWith('K') })),
    sps: await readSps(path),
  };
};

/** profile_idc, constraint_set0..5 flags and level_idc of the first SPS, from `-bsf:v trace_headers`. */
const readSps = async (path: string): Promise<NonNullable<Probe['sps']>> => {
  const args = ['-hide_banner', '-i', path, '-map', '0:v', '-c', 'copy', '-bsf:v', 'trace_headers'];
  const { stderr } = await run('ffmpeg', [...args, '-frames:v', '1', '-f', 'null', '-']);
  const field = (name: string): number => {
    const match = new RegExp(`\\s${name}\\s+[01]+ = (\\d+)`).exec(stderr);
    if (match?.[1] === undefined) throw new Error(`trace_headers printed no ${name}`);
    return Number(match[1]);
  };
  let constraintFlags = 0;
  for (let i = 0; i < 6; i++) constraintFlags |= field(`constraint_set${i}_flag`) << (7 - i);
  return { profileIdc: field('profile_idc'), constraintFlags, levelIdc: field('level_idc') };
};

// ---- ISO BMFF box builder (ISO/IEC 14496-12 §4.2) for hand-made cases ----

export const u32 = (value: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
};

export const u64 = (value: bigint): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
};

export const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

export const concat = (...parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

export const box = (type: string, ...payload: readonly Uint8Array[]): Uint8Array => {
  const body = concat(...payload);
  return concat(u32(8 + body.length), ascii(type), body);
};

export const fullBox = (type: string, version: number, flags: number, ...payload: readonly Uint8Array[]) =>
  box(type, Uint8Array.of(version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff), ...payload);

/** Where each top-level box of `bytes` starts, with its type and size (32-bit sizes only, as ffmpeg writes). */
export const topLevelBoxes = (bytes: Uint8Array): { type: string; start: number; size: number }[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: { type: string; start: number; size: number }[] = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = view.getUint32(at);
    boxes.push({ type: String.fromCharCode(...bytes.subarray(at + 4, at + 8)), start: at, size });
    at += size;
  }
  return boxes;
};
