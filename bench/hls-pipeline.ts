/**
 * The media pipeline's headline figures, from a captured Chromium publisher (testdata/rtp/h264-opus.jsonl, looped)
 * replayed in real time through decoder → mixer → encoder → packager for one 640x480@30 1 Mbps variant:
 *
 * - time from the publisher's first keyframe to the first playable LL-HLS part;
 * - latency from a frame's arrival to the part holding it being listed (p50, p95);
 * - CPU of the pipeline (this process + its ffmpeg children) against a bare ffmpeg doing the same decode, scale
 *   and encode from the same input, run side by side;
 * - resident memory at the start and the end.
 *
 *   node bench/hls-pipeline.ts [seconds=60]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { HlsVariant } from '../src/channel/channel-spec.ts';
import { matroskaFrame, matroskaHeader } from '../src/container/matroska-writer.ts';
import { Fmp4Splitter } from '../src/hls/format/fmp4-reader.ts';
import { VariantPackager } from '../src/hls/variant-packager.ts';
import { monotonicMs } from '../src/lib/clock.ts';
import { ChannelEncoder } from '../src/media/channel-encoder.ts';
import { defaultMediaOptions, partTargetFor } from '../src/media/hls-output.ts';
import { segmentScheduleFor } from '../src/hls/segment-schedule.ts';
import { Mixer } from '../src/media/mixer.ts';
import { PublisherDecoder } from '../src/media/publisher-decoder.ts';
import { ReplaySource } from '../test/helpers/replay-source.ts';
import { writeResults } from './results.ts';
import { cpuMsOf, loopedCapture, percentile } from './bench-util.ts';

const seconds = Number(process.argv[2] ?? '60');
const playoutDelayMs = 200;
const canvas = { width: 640, height: 480, fps: 30 };
const variant: HlsVariant = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
};
const log = pino({ level: 'warn' });

const frames = loopedCapture(seconds);
const dir = await mkdtemp(join(tmpdir(), 'nagare-bench-'));
// The same input for the bare ffmpeg: the frames as Matroska, read at native speed (-re).
const input = join(dir, 'input.mkv');
await writeFile(
  input,
  Buffer.concat([
    matroskaHeader([
      { number: 1, codec: 'H264' },
      { number: 2, codec: 'opus' },
    ]),
    ...frames.map((f) =>
      matroskaFrame(f.kind === 'video' ? 1 : 2, ((f.ptsTicks ?? 0) * 1000) / f.timescale, f.keyframe, f.data),
    ),
  ]),
);

const rssStart = process.memoryUsage().rss;
const epochMs = monotonicMs();
const source = new ReplaySource(frames);
const partTarget = partTargetFor(defaultMediaOptions.partSeconds, variant.video.fps);
const schedule = segmentScheduleFor(2, partTarget, [variant.video.fps]);
const packager = new VariantPackager({
  segmentSeconds: 2,
  firstSegmentSeconds: schedule.firstSeconds,
  partTargetSeconds: partTarget,
  windowSegments: 8,
  epochWallclockMs: Date.now(),
});
let splitter = new Fmp4Splitter();
let generationStart = 0;
let firstPartAt: number | undefined;
/** Channel time (ms) of the first mixed picture that is the publisher's, not the slate. */
let firstPictureMs: number | undefined;
const partLatencies: number[] = [];
const encoder = new ChannelEncoder({
  ffmpegPath: 'ffmpeg',
  canvas,
  variants: [variant],
  partSeconds: defaultMediaOptions.partSeconds,
  schedule,
  preset: defaultMediaOptions.preset,
  log,
  output: {
    started: (_, startSeconds) => {
      generationStart = startSeconds;
      splitter = new Fmp4Splitter();
    },
    data: (_, __, chunk) => {
      for (const unit of splitter.push(chunk)) {
        if (unit.type === 'init') {
          packager.setInit(unit.bytes, unit.info, generationStart);
          continue;
        }
        packager.addFragment(unit.bytes, unit.info);
        const now = monotonicMs();
        const partStartMs = (generationStart + unit.info.startSeconds) * 1000;
        const partEndMs0 = partStartMs + unit.info.durationSeconds * 1000;
        if (firstPictureMs !== undefined && partEndMs0 > firstPictureMs) firstPartAt ??= now;
        // The newest frame in this part arrived playoutDelay before its channel time.
        const partEndMs =
          (generationStart + unit.info.startSeconds + unit.info.durationSeconds) * 1000 - 1000 / canvas.fps;
        partLatencies.push(now - (epochMs + partEndMs - playoutDelayMs));
      }
    },
    ended: () => undefined,
  },
});
const mixer = new Mixer({
  canvas,
  composition: { kind: 'single' },
  epochMs,
  latencyMs: defaultMediaOptions.mixerLatencyMs,
  minLatencyMs: defaultMediaOptions.mixerMinLatencyMs,
  staleMs: 1000,
  output: (tick) => {
    if (!tick.slate) firstPictureMs ??= tick.timeMs;
    encoder.write(tick);
  },
});
const decoder = new PublisherDecoder({
  feed: source,
  ffmpegPath: 'ffmpeg',
  canvas,
  sink: mixer.addSource({ connectionId: 'p' }),
  log,
});
decoder.start();
mixer.start();
source.play(epochMs, playoutDelayMs);
const firstKeyframeAt = epochMs + ((frames[0]?.ptsTicks ?? 0) * 1000) / 90_000 - playoutDelayMs;

const bare = spawn(
  'ffmpeg',
  [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-i',
    input,
    '-vf',
    `fps=${canvas.fps},scale=${canvas.width}:${canvas.height}`,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-profile:v',
    'high',
    '-bf',
    '0',
    '-b:v',
    '1000000',
    '-maxrate',
    '1000000',
    '-bufsize',
    '1000000',
    '-g',
    '60',
    '-c:a',
    'aac',
    '-b:a',
    '64000',
    '-ar',
    '48000',
    '-ac',
    '2',
    '-f',
    'mp4',
    '-movflags',
    '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration',
    '500000',
    '-y',
    join(dir, 'bare.mp4'),
  ],
  { stdio: 'ignore' },
);

// Resident memory once a minute (the pipeline's own growth, not the input frames loaded up front).
const rssSamplesMb: number[] = [];
const sampler = setInterval(() => rssSamplesMb.push(Math.round(process.memoryUsage().rss / 1e6)), 60_000);

// Measure CPU over a steady window: from 5 s in to the end.
await new Promise((resolve) => setTimeout(resolve, 5000));
const mark = () => ({
  self: process.cpuUsage(),
  children: cpuMsOf(encoder.pid) + cpuMsOf(decoder.pid),
  encoder: cpuMsOf(encoder.pid),
  decoder: cpuMsOf(decoder.pid),
  bare: cpuMsOf(bare.pid),
  at: monotonicMs(),
});
const m0 = mark();
await new Promise((resolve) => setTimeout(resolve, (seconds - 10) * 1000));
const m1 = mark();
const selfMs = (m1.self.user - m0.self.user + m1.self.system - m0.self.system) / 1000;
const ourMs = selfMs + (m1.children - m0.children);
const bareMs = m1.bare - m0.bare;
const wallMs = m1.at - m0.at;
const rssEnd = process.memoryUsage().rss;

clearInterval(sampler);
source.stop();
await decoder.close();
mixer.close();
await encoder.close();
bare.kill('SIGKILL');
await rm(dir, { recursive: true, force: true });

const figures = {
  benchmark: 'hls-pipeline',
  input: `testdata/rtp/h264-opus.jsonl looped to ${seconds} s (Chromium H.264 640x480 + Opus), one 640x480@30 1 Mbps variant`,
  firstKeyframeToFirstPartMs: firstPartAt === undefined ? null : Math.round(firstPartAt - firstKeyframeAt),
  frameToPartListedMs: {
    p50: Math.round(percentile(partLatencies, 50)),
    p95: Math.round(percentile(partLatencies, 95)),
    parts: partLatencies.length,
  },
  cpu: {
    windowSeconds: Math.round(wallMs / 1000),
    nagareCoresUsed: Number((ourMs / wallMs).toFixed(3)),
    nodeProcessCoresUsed: Number((selfMs / wallMs).toFixed(3)),
    decoderCoresUsed: Number(((m1.decoder - m0.decoder) / wallMs).toFixed(3)),
    encoderCoresUsed: Number(((m1.encoder - m0.encoder) / wallMs).toFixed(3)),
    bareFfmpegCoresUsed: Number((bareMs / wallMs).toFixed(3)),
    ratio: Number((ourMs / bareMs).toFixed(2)),
  },
  rssMb: { start: Math.round(rssStart / 1e6), end: Math.round(rssEnd / 1e6), perMinute: rssSamplesMb },
  packager: packager.stats(),
  decoder: decoder.stats(),
  mixer: mixer.stats(),
  encoder: encoder.stats(),
};
console.log(JSON.stringify(figures, null, 2));
console.log(`written to ${writeResults('hls-pipeline', figures)}`);
