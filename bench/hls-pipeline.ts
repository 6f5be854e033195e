/**
 * The media pipeline's headline figures for one publisher: a captured Chromium publisher
 * (testdata/rtp/h264-opus.jsonl, looped) replayed in real time into a playlist of one 640x480@30 1 Mbps variant,
 * built as the server builds it. `direct` (the default): encoded by one ffmpeg from the publisher's frames, as a
 * playlist with one publisher is; `mixed`: decoder → mixer → encoder, as a playlist with several publishers is (or
 * every playlist with --direct-encoding off).
 *
 * - time from the publisher's first keyframe to the first part holding its picture;
 * - latency from a frame's arrival to the part holding it being listed (p50, p95);
 * - CPU of the pipeline (this process, replay included, + its ffmpeg children) against a bare ffmpeg doing the
 *   same decode, scale and encode from the same input (bench-util.ts's bareArgs), run side by side;
 * - resident memory at the start and the end.
 *
 *   node bench/hls-pipeline.ts [seconds=60] [direct|mixed]
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { HlsVariant } from '../src/channel/channel-spec.ts';
import { monotonicMs } from '../src/lib/clock.ts';
import { HlsOutput, defaultMediaOptions } from '../src/media/hls-output.ts';
import { PublisherDecoder, type DecoderSink } from '../src/media/publisher-decoder.ts';
import { defaultPublisherClockOptions } from '../src/rtp/publisher-clock.ts';
import { ReplaySource } from '../test/helpers/replay-source.ts';
import { writeResults } from './results.ts';
import { bareArgs, cpuMsOf, loopedCapture, percentile, writeMatroskaInput } from './bench-util.ts';

const seconds = Number(process.argv[2] ?? '60');
const mode = process.argv[3] ?? 'direct';
if (!(seconds >= 20) || (mode !== 'direct' && mode !== 'mixed')) {
  throw new Error('usage: node bench/hls-pipeline.ts [seconds ≥ 20] [direct|mixed]');
}
const { playoutDelayMs } = defaultPublisherClockOptions;
const variant: HlsVariant = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
};
const frameMs = 1000 / variant.video.fps;
const media = defaultMediaOptions;
const log = pino({ level: 'warn' });

const frames = loopedCapture(seconds);
const dir = await mkdtemp(join(tmpdir(), 'nagare-bench-'));
// The same input for the bare ffmpeg: the frames as Matroska, read at native speed (-re).
const input = join(dir, 'input.mkv');
await writeMatroskaInput(input, frames);

const rssStart = process.memoryUsage().rss;
const epochMs = monotonicMs();
const source = new ReplaySource(frames);
const output = new HlsOutput({
  channelId: 'bench',
  playlistId: 'bench',
  variants: [variant],
  composition: { kind: 'single' },
  epochMs,
  media,
  log,
});
/**
 * Where the listed media is on the channel clock against the frames' own times, ms: a direct run places them the
 * playout delay earlier (direct-encoder.ts); the mixer places them at their times.
 */
const listedEarlierMs = mode === 'direct' ? playoutDelayMs : 0;
let decoder: PublisherDecoder | undefined;
let directEnded: string | undefined;
/** Channel time (ms, as listed) of the publisher's first picture: the mixer shows the slate before it. */
let firstPictureMs: number | undefined;
if (mode === 'direct') {
  output.encodeDirect(source, {
    ended: (reason) => {
      directEnded = reason;
    },
  });
} else {
  const mixed = output.addSource({ connectionId: 'publisher' });
  const sink: DecoderSink = {
    video: (frame) => {
      firstPictureMs ??= frame.timeMs;
      mixed.video(frame);
    },
    audio: (chunk) => {
      mixed.audio(chunk);
    },
  };
  decoder = new PublisherDecoder({
    feed: source,
    ffmpegPath: media.ffmpegPath,
    canvas: output.canvas,
    sink,
    log,
  });
  decoder.start();
}

let firstPartAt: number | undefined;
const partLatencies: number[] = [];
let listedEndMs = Number.NEGATIVE_INFINITY;
const [packager] = output.packagers;
if (packager === undefined) throw new Error('no packager');
packager.onChange(() => {
  const segment = packager.segments.at(-1);
  if (segment === undefined) return;
  let endMs = segment.startSeconds * 1000;
  for (const part of segment.parts) endMs += part.durationSeconds * 1000;
  if (endMs <= listedEndMs) return;
  listedEndMs = endMs;
  const now = monotonicMs();
  if (mode === 'direct' || (firstPictureMs !== undefined && endMs > firstPictureMs)) firstPartAt ??= now;
  // The part's newest frame arrived the playout delay before its time on the channel clock.
  partLatencies.push(now - (epochMs + endMs + listedEarlierMs - frameMs - playoutDelayMs));
});
output.start();
source.play(epochMs, playoutDelayMs);
const firstKeyframeAt = epochMs + ((frames[0]?.ptsTicks ?? 0) * 1000) / 90_000 - playoutDelayMs;

const sinkFd = openSync('/dev/null', 'w');
const bare = spawn(media.ffmpegPath, bareArgs(input, variant, media), {
  stdio: ['ignore', 'ignore', 'ignore', sinkFd],
});

// Resident memory once a minute (the pipeline's own growth, not the input frames loaded up front).
const rssSamplesMb: number[] = [];
const sampler = setInterval(() => rssSamplesMb.push(Math.round(process.memoryUsage().rss / 1e6)), 60_000);

// Measure CPU over a steady window: from 5 s in to the end.
await new Promise((resolve) => setTimeout(resolve, 5000));
const mark = () => ({
  self: process.cpuUsage(),
  encoder: cpuMsOf(output.encoderPid),
  decoder: cpuMsOf(decoder?.pid),
  bare: cpuMsOf(bare.pid),
  at: monotonicMs(),
});
const m0 = mark();
await new Promise((resolve) => setTimeout(resolve, (seconds - 10) * 1000));
const m1 = mark();
const selfMs = (m1.self.user - m0.self.user + m1.self.system - m0.self.system) / 1000;
const ourMs = selfMs + (m1.encoder - m0.encoder) + (m1.decoder - m0.decoder);
const bareMs = m1.bare - m0.bare;
const wallMs = m1.at - m0.at;
const rssEnd = process.memoryUsage().rss;

clearInterval(sampler);
source.stop();
await decoder?.close();
await output.close();
bare.kill('SIGKILL');
closeSync(sinkFd);
await rm(dir, { recursive: true, force: true });

const stats = output.stats();
const figures = {
  benchmark: 'hls-pipeline',
  mode,
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
  directEnded: directEnded ?? null,
  packager: packager.stats(),
  decoder: decoder?.stats() ?? null,
  media: stats,
};
console.log(JSON.stringify(figures, null, 2));
console.log(`written to ${writeResults(mode === 'direct' ? 'hls-pipeline' : 'hls-pipeline-mixed', figures)}`);
