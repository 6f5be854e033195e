/**
 * What a viewer of a playlist would see and hear, checked with ffmpeg: the newest complete segment of a variant,
 * its last picture as RGB, its sound as mono PCM, and a Goertzel filter to find tones in it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { probeStream, run } from './ffmpeg.ts';

export interface FetchedSegment {
  msn: number;
  /** init + segment, a playable fragmented MP4. */
  bytes: Buffer;
  /** The media playlist it was listed in. */
  playlist: string;
}

async function text(url: URL | string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${String(url)}: HTTP ${response.status}`);
  return await response.text();
}

async function bytes(url: URL): Promise<Buffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url.href}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The media playlist URL of variant `index` of a multivariant playlist. */
export async function mediaPlaylistUrl(multivariantUrl: string, index = 0): Promise<URL> {
  const multivariant = await text(multivariantUrl);
  const uri = multivariant.split('\n').filter((line) => line.endsWith('.m3u8'))[index];
  if (uri === undefined) throw new Error(`no variant ${index} in\n${multivariant}`);
  return new URL(uri, multivariantUrl);
}

/** The newest complete segment of a media playlist, with its init segment before it. */
export async function newestSegment(mediaUrl: URL): Promise<FetchedSegment> {
  const playlist = await text(mediaUrl);
  const lines = playlist.split('\n');
  let map: string | undefined;
  let found: { uri: string; map: string } | undefined;
  for (const line of lines) {
    const mapUri = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line)?.[1];
    if (mapUri !== undefined) map = mapUri;
    if (/^\d+\.m4s$/.test(line) && map !== undefined) found = { uri: line, map };
  }
  if (found === undefined) throw new Error(`no complete segment yet in\n${playlist}`);
  const init = await bytes(new URL(found.map, mediaUrl));
  const body = await bytes(new URL(found.uri, mediaUrl));
  return { msn: Number.parseInt(found.uri, 10), bytes: Buffer.concat([init, body]), playlist };
}

/** The newest segment after `afterMsn` that passes `check`, polled until `timeoutMs`. */
export async function segmentAfter(
  mediaUrl: URL,
  afterMsn: number,
  what: string,
  check: (segment: FetchedSegment) => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<FetchedSegment> {
  return await eventually(what, timeoutMs, async () => {
    const segment = await newestSegment(mediaUrl);
    return segment.msn > afterMsn && (await check(segment)) ? segment : undefined;
  });
}

/** Runs `work` on the segment written to a temporary file. */
async function withFile<T>(segment: FetchedSegment, work: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'nagare-segment-'));
  try {
    const path = join(dir, 'segment.mp4');
    await writeFile(path, segment.bytes);
    return await work(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ffprobe's `stream=<entries>` of the segment's first stream of type `select`, e.g. `320,240`. */
export async function probeSegment(segment: FetchedSegment, entries: string, select = 'v'): Promise<string> {
  return await withFile(segment, (path) => probeStream(path, entries, select));
}

/** ffmpeg's raw output for the segment with these output options. */
async function decode(segment: FetchedSegment, output: string[]): Promise<Buffer> {
  const { stdout } = await withFile(segment, (path) =>
    run('ffmpeg', ['-v', 'error', '-i', path, ...output, '-'], {
      encoding: 'buffer',
      maxBuffer: 256 * 1024 * 1024,
    }),
  );
  return stdout;
}

export interface RgbPicture {
  width: number;
  height: number;
  /** rgb24 */
  data: Buffer;
  /** [r, g, b] at (x, y) */
  at(x: number, y: number): [number, number, number];
}

/** The segment's last picture, scaled to `width`×`height` (keep it small: every frame is decoded). */
export async function lastPicture(
  segment: FetchedSegment,
  width: number,
  height: number,
): Promise<RgbPicture> {
  const stdout = await decode(segment, [
    '-map',
    '0:v:0',
    '-vf',
    `scale=${width}:${height}`,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
  ]);
  const frameBytes = width * height * 3;
  const frames = Math.floor(stdout.length / frameBytes);
  if (frames === 0) throw new Error('the segment decoded to no picture');
  const data = stdout.subarray((frames - 1) * frameBytes, frames * frameBytes);
  return {
    width,
    height,
    data,
    at(x, y) {
      const offset = (y * width + x) * 3;
      return [data[offset] ?? 0, data[offset + 1] ?? 0, data[offset + 2] ?? 0];
    },
  };
}

/** The segment's sound as 48 kHz mono samples (the mean of left and right; full scale 1). */
export async function monoSamples(segment: FetchedSegment): Promise<Float32Array> {
  // -ac 1 would sum the channels at 0.707 each for float output: a full-scale stereo tone reads 1.41.
  const stdout = await decode(segment, [
    '-map',
    '0:a:0',
    '-af',
    'pan=mono|c0=0.5*c0+0.5*c1',
    '-ar',
    '48000',
    '-f',
    'f32le',
  ]);
  return new Float32Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 4));
}

/** Power of `frequency` in `samples` (Goertzel), normalised by the length: a full-scale sine gives about 0.25. */
export function tonePower(samples: Float32Array, frequency: number, sampleRate = 48_000): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (const sample of samples) {
    const current = sample + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power =
    previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return power / (samples.length * samples.length);
}

/** Whether an RGB sample is close to a pure colour, with room for compression and colour-space rounding. */
export function isColour(
  rgb: readonly [number, number, number],
  expected: 'red' | 'blue' | 'green',
): boolean {
  const [r, g, b] = rgb;
  switch (expected) {
    case 'red':
      return r > 170 && g < 90 && b < 90;
    case 'green':
      return g > 170 && r < 90 && b < 90;
    case 'blue':
      return b > 170 && r < 90 && g < 90;
  }
}

/** Segments `afterMsn + 1` … `afterMsn + count` (waiting for them), after their init segment: one playable file. */
export async function segmentsAfter(
  mediaUrl: URL,
  afterMsn: number,
  count: number,
  timeoutMs = 30_000,
): Promise<FetchedSegment> {
  const last = afterMsn + count;
  const playlist = await eventually(`segments ${afterMsn + 1}–${last}`, timeoutMs, async () => {
    const listed = await text(mediaUrl);
    return listed.includes(`\n${last}.m4s`) ? listed : undefined;
  });
  const map = /^#EXT-X-MAP:URI="([^"]+)"/m.exec(playlist)?.[1];
  if (map === undefined) throw new Error(`no EXT-X-MAP in\n${playlist}`);
  const parts = [await bytes(new URL(map, mediaUrl))];
  for (let msn = afterMsn + 1; msn <= last; msn++) parts.push(await bytes(new URL(`${msn}.m4s`, mediaUrl)));
  return { msn: last, bytes: Buffer.concat(parts), playlist };
}

/** ffprobe's `<pts_time>,<tag>` lines for the frames of a lavfi graph, as [seconds, value] pairs. */
async function taggedFrames(graph: string, tag: string): Promise<[number, number][]> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    graph,
    '-show_entries',
    `frame=pts_time:frame_tags=${tag}`,
    '-of',
    'csv=p=0',
  ]);
  // astats reports silence as -inf.
  const number = (field: string | undefined): number => (field === '-inf' ? -Infinity : Number(field));
  return stdout
    .split('\n')
    .map((line) => line.split(','))
    .map(([time, value]): [number, number] => [number(time), number(value)])
    .filter(([time, value]) => Number.isFinite(time) && !Number.isNaN(value));
}

/** Where a white flash starts in the picture and a tone starts in the sound: media seconds of each. */
export interface FlashOnsets {
  video: number[];
  audio: number[];
}

/**
 * The onsets of the sync source's flashes (pages/sora-client.js, `flashEveryMs`) in a segment: a picture whose
 * mean luma rises past `lumaThreshold` after one below it, and a 5 ms window whose RMS level rises past
 * `levelThresholdDb` after one below it. Times are the demuxed presentation times, as a player schedules them.
 */
export async function flashOnsets(
  segment: FetchedSegment,
  lumaThreshold = 170,
  levelThresholdDb = -30,
): Promise<FlashOnsets> {
  return await withFile(segment, async (path) => {
    const luma = await taggedFrames(`movie=${path},signalstats`, 'lavfi.signalstats.YAVG');
    const level = await taggedFrames(
      `amovie=${path},pan=mono|c0=c0,asetnsamples=n=240:p=0,astats=metadata=1:reset=1`,
      'lavfi.astats.Overall.RMS_level',
    );
    const rises = (series: [number, number][], threshold: number): number[] =>
      series.flatMap(([time, value], index) =>
        index > 0 && value > threshold && (series[index - 1]?.[1] ?? threshold) <= threshold ? [time] : [],
      );
    return { video: rises(luma, lumaThreshold), audio: rises(level, levelThresholdDb) };
  });
}

/** For each video onset, the nearest audio onset minus it (positive: the sound comes late), seconds. */
export function avOffsets(onsets: FlashOnsets): number[] {
  return onsets.video.flatMap((video) => {
    const nearest = onsets.audio.reduce<number | undefined>(
      (best, audio) =>
        best === undefined || Math.abs(audio - video) < Math.abs(best - video) ? audio : best,
      undefined,
    );
    return nearest === undefined ? [] : [nearest - video];
  });
}

/**
 * Phases (each in [0, period)) sorted and unwrapped around the widest gap between them, so that beeps either side
 * of the period's boundary (0.995 and 0.005 of a 1 s period) read as 10 ms apart, not 990: the values after the
 * widest gap come first, and those before it follow with a period added.
 */
export function unwrapPhases(phases: readonly number[], period: number): number[] {
  const sorted = [...phases].sort((a, b) => a - b);
  if (sorted.length < 2) return sorted;
  // The gap after sorted[i] (the last one wraps to the first).
  let widest = sorted.length - 1;
  let widestGap = sorted[0]! + period - sorted[widest]!;
  for (let i = 0; i < sorted.length - 1; i++) {
    const gap = sorted[i + 1]! - sorted[i]!;
    if (gap > widestGap) {
      widest = i;
      widestGap = gap;
    }
  }
  if (widest === sorted.length - 1) return sorted;
  return [...sorted.slice(widest + 1), ...sorted.slice(0, widest + 1).map((p) => p + period)];
}
