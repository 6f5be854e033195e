/**
 * The media pipeline with real ffmpeg: a captured Chromium publisher (H.264 + Opus) replayed in real time →
 * decoder → mixer → encoder with two variants → fMP4. ffprobe checks each variant: codec, profile, exact size,
 * frame rate, 48 kHz AAC, and keyframes at the same instants in both. The encoder killed with SIGKILL comes back.
 * A decoder frozen with SIGSTOP (a starved process) falls behind and drops video until a keyframe.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { HlsVariant } from '../../src/channel/channel-spec.ts';
import { monotonicMs } from '../../src/lib/clock.ts';
import { ChannelEncoder } from '../../src/media/channel-encoder.ts';
import { Mixer } from '../../src/media/mixer.ts';
import { PublisherDecoder, type DecoderSink } from '../../src/media/publisher-decoder.ts';
import { mediaCounters } from '../../src/media/media-counters.ts';
import { segmentScheduleFor } from '../../src/hls/segment-schedule.ts';
import { probeKeyframes, run } from '../helpers/ffmpeg.ts';
import { ingestCapture, ReplaySource } from '../helpers/replay-source.ts';

const log = pino({ level: 'silent' });
const canvas = { width: 640, height: 480, fps: 30 };
/** Variants at 30 and 15 fps, 0.5 s parts: boundaries at 0, 1.5333 (23 frames at 15 fps), 2, 4, 6 … s. */
const schedule = segmentScheduleFor(2, 0.5, [30, 15]);
const variants: HlsVariant[] = [
  {
    video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_main' },
    audio: { bps: 64_000 },
    durationSeconds: 2,
  },
  {
    video: { width: 320, height: 180, fps: 15, bps: 300_000, codec: 'h264_baseline' },
    audio: { bps: 32_000 },
    durationSeconds: 2,
  },
];

interface Pipeline {
  outputs: Map<number, Buffer[]>[];
  encoder: ChannelEncoder;
  decoder: PublisherDecoder;
  mixer: Mixer;
  source: ReplaySource;
  /** The channel clock's origin (monotonic ms). */
  epochMs: number;
  close(): Promise<void>;
}

/** Decoded pictures' times, as the decoder hands them to the mixer. */
function startPipeline(pictures: number[] = []): Pipeline {
  const frames = ingestCapture(new URL('../../testdata/rtp/h264-opus.jsonl', import.meta.url).pathname);
  const source = new ReplaySource(frames);
  const epochMs = monotonicMs();
  // outputs[variant] maps encoder generation → its fMP4 bytes.
  const outputs = variants.map(() => new Map<number, Buffer[]>());
  const encoder = new ChannelEncoder({
    ffmpegPath: 'ffmpeg',
    canvas,
    variants,
    partSeconds: 0.5,
    schedule,
    preset: 'veryfast',
    log,
    output: {
      started: (generation) => {
        for (const output of outputs) output.set(generation, []);
      },
      data: (generation, index, chunk) => outputs[index]?.get(generation)?.push(Buffer.from(chunk)),
      ended: () => undefined,
    },
  });
  const mixer = new Mixer({
    canvas,
    composition: { kind: 'single' },
    epochMs,
    latencyMs: 300,
    staleMs: 1000,
    output: (tick) => {
      encoder.write(tick);
    },
  });
  const decoder = new PublisherDecoder({
    feed: source,
    ffmpegPath: 'ffmpeg',
    canvas,
    sink: recording(mixer.addSource({ connectionId: 'p' }), pictures),
    log,
  });
  decoder.start();
  mixer.start();
  source.play(epochMs);
  return {
    outputs,
    encoder,
    decoder,
    mixer,
    source,
    epochMs,
    close: async () => {
      source.stop();
      await decoder.close();
      mixer.close();
      await encoder.close();
    },
  };
}

function recording(sink: DecoderSink, pictures: number[]): DecoderSink {
  return {
    video: (frame) => {
      pictures.push(frame.timeMs);
      sink.video(frame);
    },
    audio: (chunk) => {
      sink.audio(chunk);
    },
  };
}

describe('media pipeline: decoder → mixer → encoder with real ffmpeg', { timeout: 60_000 }, () => {
  test('two variants of exactly the asked size, profile and rate, with keyframes at the same instants', async () => {
    const overReleasedBefore = mediaCounters.picturesReleasedUnheld;
    const pipeline = startPipeline();
    const dir = await mkdtemp(join(tmpdir(), 'nagare-media-'));
    try {
      await sleep(9000);
      await pipeline.close();
      assert.equal(pipeline.decoder.stats().restarts, 0);
      assert.ok(pipeline.decoder.stats().videoOut > 150, JSON.stringify(pipeline.decoder.stats()));
      // Pictures are reused, and once all is closed every one is back in the decoder's pool (none lost, none
      // released twice): the mixer's queue and the encoder's writes let go of each.
      const { pictures } = pipeline.decoder.stats();
      assert.ok(pictures.allocated < 30, `pictures: ${JSON.stringify(pictures)}`);
      // Taken: every picture out, and one being filled when the decoder stopped, if it stopped mid-picture.
      const taken = pictures.allocated + pictures.reused - pipeline.decoder.stats().videoOut;
      assert.ok(taken === 0 || taken === 1, `pictures: ${JSON.stringify(pictures)}`);
      assert.equal(
        pictures.spare + pictures.dropped,
        pictures.allocated,
        `pictures: ${JSON.stringify(pictures)}`,
      );
      assert.equal(mediaCounters.picturesReleasedUnheld, overReleasedBefore);
      assert.ok(pipeline.mixer.stats().ticks > 200);
      const expected = [
        { profile: 'Main', width: 640, height: 480, rate: '30/1' },
        { profile: 'Constrained Baseline', width: 320, height: 180, rate: '15/1' },
      ];
      const keyframeSets: number[][] = [];
      for (const [index, output] of pipeline.outputs.entries()) {
        const path = join(dir, `v${index}.mp4`);
        await writeFile(path, Buffer.concat(output.get(1) ?? []));
        const { streams, keyframes } = await probeKeyframes(path);
        const video = streams.find((s) => s['codec_type'] === 'video');
        const audio = streams.find((s) => s['codec_type'] === 'audio');
        assert.equal(video?.['codec_name'], 'h264');
        assert.equal(video['profile'], expected[index]?.profile);
        assert.equal(Number(video['width']), expected[index]?.width);
        assert.equal(Number(video['height']), expected[index]?.height);
        assert.equal(video['r_frame_rate'], expected[index]?.rate);
        assert.equal(audio?.['codec_name'], 'aac');
        assert.equal(audio['profile'], 'LC');
        assert.equal(audio['sample_rate'], '48000');
        assert.ok(keyframes.length >= 3, `keyframes at ${keyframes.join(', ')}`);
        keyframeSets.push(keyframes);
      }
      // Keyframes at the schedule's boundaries (the first segment short), at the same instants in both variants.
      assert.equal(schedule.firstSeconds, 23 / 15);
      const [first = [], second = []] = keyframeSets;
      const shared = Math.min(first.length, second.length);
      for (let i = 0; i < shared; i++) {
        assert.ok(
          Math.abs((first[i] ?? 0) - (second[i] ?? 0)) < 0.001,
          `keyframe ${i}: ${first[i]} vs ${second[i]}`,
        );
        const boundary = i === 0 ? 0 : i === 1 ? schedule.firstSeconds : (i - 1) * 2;
        assert.ok(
          Math.abs((first[i] ?? 0) - (first[0] ?? 0) - boundary) < 0.001,
          `keyframes at ${first.join(', ')}: keyframe ${i} is not at ${boundary} s`,
        );
      }
    } finally {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Node stalled past a second: the mixer skips ahead, and the encoded sound has no hole', async () => {
    const pipeline = startPipeline();
    const dir = await mkdtemp(join(tmpdir(), 'nagare-media-'));
    try {
      await sleep(3000);
      // The event loop held for 1.6 s, as a starved or paused process is: past a second behind, the mixer skips.
      const until = monotonicMs() + 1600;
      while (monotonicMs() < until) {
        // busy
      }
      await sleep(3000);
      await pipeline.close();
      assert.ok(pipeline.mixer.stats().lateTicksSkipped > 0, JSON.stringify(pipeline.mixer.stats()));
      assert.equal(pipeline.encoder.stats().generation, 1);
      const path = join(dir, 'v0.mp4');
      await writeFile(path, Buffer.concat(pipeline.outputs[0]?.get(1) ?? []));
      const packets = async (stream: string): Promise<[number, number][]> => {
        const { stdout } = await run('ffprobe', [
          ...['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time,duration_time'],
          ...['-of', 'csv=p=0', path],
        ]);
        return stdout
          .trim()
          .split('\n')
          .map((line) => line.split(',').map(Number) as [number, number]);
      };
      const audio = await packets('a');
      const video = await packets('v');
      // Every AAC packet starts where the one before ended: a skip is silence, not a hole the player must bridge.
      const holes = audio.flatMap(([pts, duration], index) => {
        const next = audio[index + 1];
        return next !== undefined && next[0] - (pts + duration) > 0.005
          ? [`${pts + duration}→${next[0]}`]
          : [];
      });
      assert.deepEqual(holes, [], `holes in the sound`);
      // And the sound lasts as long as the pictures.
      const end = (list: [number, number][]): number =>
        Math.max(...list.map(([pts, duration]) => pts + duration));
      assert.ok(
        Math.abs(end(audio) - end(video)) < 0.1,
        `sound ends at ${end(audio)}, video at ${end(video)}`,
      );
    } finally {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an encoder killed with SIGKILL is restarted and its output goes on', async () => {
    const pipeline = startPipeline();
    try {
      await sleep(3000);
      const before = pipeline.encoder.pid;
      assert.ok(before !== undefined);
      pipeline.encoder.kill();
      const deadline = monotonicMs() + 5000;
      while (pipeline.encoder.stats().generation < 2 && monotonicMs() < deadline) await sleep(100);
      assert.equal(pipeline.encoder.stats().generation, 2);
      assert.notEqual(pipeline.encoder.pid, before);
      assert.match(pipeline.encoder.stats().lastExit ?? '', /SIGKILL/);
      await sleep(2500);
      const bytes = (pipeline.outputs[0]?.get(2) ?? []).reduce((n, chunk) => n + chunk.length, 0);
      assert.ok(bytes > 10_000, `the new encoder produced ${bytes} bytes`);
    } finally {
      await pipeline.close();
    }
  });

  test('a decoder frozen for 2.5 s drops video until the next keyframe and asks for one; its sound goes on', async () => {
    const pictures: number[] = [];
    const pipeline = startPipeline(pictures);
    try {
      // The capture's keyframes are at 0.22, 0.82 and 8.2 s; freeze the decoder once it has shown pictures.
      const deadline = monotonicMs() + 5000;
      while (pipeline.decoder.stats().videoOut === 0 && monotonicMs() < deadline) await sleep(50);
      const pid = pipeline.decoder.pid;
      assert.ok(pid !== undefined && pipeline.decoder.stats().videoOut > 0, 'the decoder shows pictures');
      const requestsBefore = pipeline.source.keyframeRequests;
      process.kill(pid, 'SIGSTOP');
      await sleep(2500);
      process.kill(pid, 'SIGCONT');
      const dropped = pipeline.decoder.stats().videoDropped;
      assert.ok(dropped > 0, `video dropped while frozen: ${dropped}`);
      assert.equal(pipeline.source.keyframeRequests, requestsBefore + 1, 'one keyframe asked for');
      // Pictures again from the keyframe at 8.2 s (the gap since the drop is filled first).
      const until = monotonicMs() + 15_000;
      while ((pictures.at(-1) ?? 0) < 8200 && monotonicMs() < until) await sleep(100);
      assert.ok((pictures.at(-1) ?? 0) >= 8200, `pictures up to ${pictures.at(-1)} ms`);
      const stats = pipeline.decoder.stats();
      assert.equal(stats.restarts, 0);
      assert.ok(stats.videoDropped > dropped, `still dropped until the keyframe: ${stats.videoDropped}`);
      // Sound was never dropped: the decoder's output covers the capture, at 48 kHz.
      assert.ok(
        stats.audioSamplesOut / 48 > pipeline.source.lastTimeMs - 1000,
        `${stats.audioSamplesOut / 48} ms of sound`,
      );
    } finally {
      await pipeline.close();
    }
  });
});
