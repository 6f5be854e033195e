/**
 * CPU of a composite: four publishers (the captured Chromium publisher, testdata/rtp/h264-opus.jsonl, H.264
 * 640x480 + Opus, looped and started 100 ms apart) each decoded by its own ffmpeg, composed in a 2×2 grid with
 * their audio mixed, encoded to one 640x480@30 1 Mbps variant and packaged as LL-HLS, in real time. Prints the
 * cores used by the whole (this process, the decoders, the encoder) over a steady window. Target: ≤ 1 core.
 *
 *   node bench/composite.ts [seconds=60] [publishers=4]
 */
import { pino } from 'pino';
import type { HlsVariant } from '../src/channel/channel-spec.ts';
import { monotonicMs } from '../src/lib/clock.ts';
import { HlsOutput, defaultMediaOptions } from '../src/media/hls-output.ts';
import { PublisherDecoder } from '../src/media/publisher-decoder.ts';
import { ReplaySource } from '../test/helpers/replay-source.ts';
import { writeResults } from './results.ts';
import { cpuMsOf, loopedCapture, ownCpuMs } from './bench-util.ts';

const seconds = Number(process.argv[2] ?? '60');
const publisherCount = Number(process.argv[3] ?? '4');
const variant: HlsVariant = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 96_000 },
  durationSeconds: 2,
};
const log = pino({ level: 'warn' });

const epochMs = monotonicMs();
const output = new HlsOutput({
  channelId: 'bench',
  playlistId: 'bench',
  variants: [variant],
  composition: { kind: 'layout', layout: { type: 'grid' } },
  epochMs,
  media: defaultMediaOptions,
  log,
});
output.start();

const sources: ReplaySource[] = [];
const decoders: PublisherDecoder[] = [];
for (let index = 0; index < publisherCount; index++) {
  const source = new ReplaySource(loopedCapture(seconds, 1000 + index * 100));
  const decoder = new PublisherDecoder({
    feed: source,
    ffmpegPath: 'ffmpeg',
    canvas: output.canvas,
    sink: output.addSource({ connectionId: `publisher-${index}` }),
    log,
  });
  decoder.start();
  source.play(epochMs);
  sources.push(source);
  decoders.push(decoder);
}

const children = () => ({
  decoders: decoders.reduce((sum, decoder) => sum + cpuMsOf(decoder.pid), 0),
  encoder: cpuMsOf(output.encoderPid),
});

// A steady window: from 5 s in (every publisher decoding) to 5 s before the end.
await new Promise((resolve) => setTimeout(resolve, 5000));
const start = { self: ownCpuMs(), ...children(), at: monotonicMs() };
await new Promise((resolve) => setTimeout(resolve, (seconds - 10) * 1000));
const end = { self: ownCpuMs(), ...children(), at: monotonicMs() };
const stats = output.stats() as {
  mixer: { ticks: number; tiles: number; slateTicks: number; lateTicksSkipped: number };
  encoder: Record<string, unknown>;
  packagers: { parts: number }[];
};
const decoderStats = decoders.map((decoder) => decoder.stats());

for (const source of sources) source.stop();
await Promise.all(decoders.map((decoder) => decoder.close()));
await output.close();

const wallMs = end.at - start.at;
const cores = (ms: number): number => Number((ms / wallMs).toFixed(3));
const node = end.self - start.self;
const decoding = end.decoders - start.decoders;
const encoding = end.encoder - start.encoder;
const figures = {
  benchmark: 'composite',
  input: `${publisherCount} × testdata/rtp/h264-opus.jsonl looped to ${seconds} s, grid, one 640x480@30 1 Mbps variant`,
  windowSeconds: Math.round(wallMs / 1000),
  coresUsed: cores(node + decoding + encoding),
  nodeProcessCores: cores(node),
  decoderCores: cores(decoding),
  encoderCores: cores(encoding),
  tilesAtEnd: stats.mixer.tiles,
  ticks: stats.mixer.ticks,
  lateTicksSkipped: stats.mixer.lateTicksSkipped,
  parts: stats.packagers[0]?.parts,
  videoDroppedByDecoders: decoderStats.reduce((sum, s) => sum + s.videoDropped, 0),
  decoderRestarts: decoderStats.reduce((sum, s) => sum + s.restarts, 0),
};
console.log(JSON.stringify(figures, null, 2));
console.log(`written to ${writeResults('composite', figures)}`);
