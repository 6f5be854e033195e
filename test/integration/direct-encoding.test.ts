/**
 * Direct encoding with real ffmpeg: a playlist with one publisher (a captured Chromium publisher, H.264 + Opus,
 * replayed in real time) encoded by one ffmpeg from the publisher's frames to two variants, without a decoder or
 * mixer. ffprobe checks what the packagers list: codec, profile, exact size, rate, AAC, keyframes at the schedule's
 * boundaries in both variants. Then every way the direct run ends hands the playlist to the mixer, after a
 * discontinuity, from where the direct run stopped: another publisher (the caller ends it), its ffmpeg killed, the
 * publisher's video stopping, a publisher without video, frames of garbage.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { HlsVariant } from '../../src/channel/channel-spec.ts';
import { monotonicMs } from '../../src/lib/clock.ts';
import { HlsOutput, defaultMediaOptions } from '../../src/media/hls-output.ts';
import type { FrameSource } from '../../src/media/publisher-decoder.ts';
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';
import type { VariantPackager } from '../../src/hls/variant-packager.ts';
import { eventually } from '../helpers/eventually.ts';
import { ingestCapture, ReplaySource } from '../helpers/replay-source.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
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
const frames = ingestCapture(new URL('../../testdata/rtp/h264-opus.jsonl', import.meta.url).pathname);

interface Channel {
  output: HlsOutput;
  source: ReplaySource;
  /** Why the direct run ended, when it did. */
  ended: string[];
  close(): Promise<void>;
}

function startChannel(feed: (source: ReplaySource) => FrameSource = (source) => source): Channel {
  const epochMs = monotonicMs();
  const source = new ReplaySource(frames);
  const output = new HlsOutput({
    channelId: 'direct',
    playlistId: 'direct',
    variants,
    composition: { kind: 'single' },
    epochMs,
    media: { ...defaultMediaOptions, ffmpegPath: 'ffmpeg', partSeconds: 0.5 },
    log,
  });
  const ended: string[] = [];
  assert.equal(
    output.encodeDirect(feed(source), (reason) => ended.push(reason)),
    true,
  );
  output.start();
  source.play(epochMs);
  return {
    output,
    source,
    ended,
    close: async () => {
      source.stop();
      await output.close();
    },
  };
}

/** The packager's listed media of its first init (one run), as one fMP4 file. */
function firstRun(packager: VariantPackager): Buffer {
  const segments = packager.segments.filter((segment) => segment.initId === 1);
  const init = packager.init(1);
  assert.ok(init !== undefined);
  return Buffer.concat([init, ...segments.flatMap((segment) => segment.parts.map((part) => part.bytes))]);
}

async function probe(path: string): Promise<{ streams: Record<string, string>[]; keyframes: number[] }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams;
  const shown = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v',
    '-show_frames',
    '-show_entries',
    'frame=pts_time,key_frame',
    '-of',
    'csv=p=0',
    path,
  ]);
  const keyframes = shown.stdout
    .split('\n')
    .map((line) => line.split(','))
    .filter((fields) => fields[0] === '1')
    .map((fields) => Number(fields[1]));
  return { streams, keyframes };
}

/** The segments of runs after the direct one: they follow it in time, the first marked a discontinuity. */
function assertMixedAfterDirect(packager: VariantPackager): void {
  const segments = packager.segments;
  const firstMixed = segments.findIndex((segment) => segment.initId > 1);
  assert.ok(firstMixed > 0, `inits: ${segments.map((s) => s.initId).join(',')}`);
  const mixed = segments[firstMixed];
  const direct = segments[firstMixed - 1];
  assert.ok(mixed !== undefined && direct !== undefined);
  assert.equal(mixed.discontinuity, true);
  const directEnd = direct.startSeconds + direct.durationSeconds;
  assert.ok(
    mixed.startSeconds >= directEnd - 0.001,
    `mixed from ${mixed.startSeconds}, direct to ${directEnd}`,
  );
  assert.ok(segments.slice(firstMixed).reduce((sum, segment) => sum + segment.parts.length, 0) >= 3);
}

describe('direct encoding: one publisher to every variant in one ffmpeg', { timeout: 60_000 }, () => {
  test('two variants of exactly the asked size, profile and rate, keyframes at the same instants', async () => {
    const channel = startChannel();
    const dir = await mkdtemp(join(tmpdir(), 'nagare-direct-'));
    try {
      await sleep(7000);
      const stats = channel.output.stats() as { path: string; mixer: { ticks: number } };
      assert.equal(stats.path, 'direct');
      // Nothing went through the mixer.
      assert.equal(stats.mixer.ticks, 0);
      assert.deepEqual(channel.ended, []);
      assert.equal(channel.output.playable, true);
      const expected = [
        { profile: 'Main', width: 640, height: 480, rate: '30/1' },
        { profile: 'Constrained Baseline', width: 320, height: 180, rate: '15/1' },
      ];
      const keyframeSets: number[][] = [];
      for (const [index, packager] of channel.output.packagers.entries()) {
        const path = join(dir, `v${index}.mp4`);
        await writeFile(path, firstRun(packager));
        const { streams, keyframes } = await probe(path);
        const video = streams.find((s) => s['codec_type'] === 'video');
        const audio = streams.find((s) => s['codec_type'] === 'audio');
        assert.equal(video?.['codec_name'], 'h264');
        assert.equal(video['profile'], expected[index]?.profile);
        assert.equal(Number(video['width']), expected[index]?.width);
        assert.equal(Number(video['height']), expected[index]?.height);
        assert.equal(video['r_frame_rate'], expected[index]?.rate);
        assert.equal(audio?.['codec_name'], 'aac');
        assert.equal(audio['sample_rate'], '48000');
        assert.ok(keyframes.length >= 3, `keyframes at ${keyframes.join(', ')}`);
        keyframeSets.push(keyframes);
      }
      // Keyframes at 0, 23/15 s (the first segment, short so both rates cut there), then every 2 s, in both.
      const [first = [], second = []] = keyframeSets;
      for (let i = 0; i < Math.min(first.length, second.length); i++) {
        const boundary = i === 0 ? 0 : i === 1 ? 23 / 15 : (i - 1) * 2;
        assert.ok(Math.abs((first[i] ?? 0) - (second[i] ?? 0)) < 0.001, `keyframe ${i}`);
        assert.ok(
          Math.abs((first[i] ?? 0) - boundary) < 0.001,
          `keyframes at ${first.join(', ')}: keyframe ${i} is not at ${boundary} s`,
        );
      }
      // The run starts on the frame grid, and media is listed within a second or so of real time, never ahead of
      // it (EXT-X-PROGRAM-DATE-TIME in the future).
      const start = channel.output.packagers[0]?.segments[0]?.startSeconds ?? Number.NaN;
      assert.ok(Math.abs(start * 30 - Math.round(start * 30)) < 1e-6, `starts at ${start}`);
      const latency = channel.output.listingLatencyMs;
      assert.ok(latency !== undefined && latency >= 0 && latency < 2000, `listed ${latency} ms behind`);
    } finally {
      await channel.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('ended by the caller (a second publisher): the mixer goes on from there after a discontinuity', async () => {
    const channel = startChannel();
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      const pid = channel.output.encoderPid;
      channel.output.endDirect('a second publisher');
      assert.deepEqual(channel.ended, ['a second publisher']);
      assert.equal(channel.output.direct, false);
      // Its ffmpeg is stopped; the mixer's encoder takes its place (the slate: nobody is added to the mixer here).
      await holds(10_000, () => {
        assert.notEqual(channel.output.encoderPid, undefined);
        assert.notEqual(channel.output.encoderPid, pid);
        for (const packager of channel.output.packagers) assertMixedAfterDirect(packager);
      });
      assert.equal(isRunning(pid), false);
    } finally {
      await channel.close();
    }
  });

  test('its ffmpeg killed: the mixer takes over and says why', async () => {
    const channel = startChannel();
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      channel.output.killEncoder();
      await holds(5000, () => {
        assert.match(channel.ended.join(), /ffmpeg exited/);
      });
      await holds(10_000, () => {
        for (const packager of channel.output.packagers) assertMixedAfterDirect(packager);
      });
    } finally {
      await channel.close();
    }
  });

  test('the publisher’s video stopping for a second ends it; the mixer keeps the playlist going', async () => {
    const channel = startChannel();
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      channel.source.stop();
      const stoppedAt = monotonicMs();
      await holds(5000, () => {
        assert.deepEqual(channel.ended, ['publisher video stopped']);
      });
      const waited = monotonicMs() - stoppedAt;
      assert.ok(waited >= 900, `ended ${waited} ms after the video stopped`);
      await holds(10_000, () => {
        for (const packager of channel.output.packagers) assertMixedAfterDirect(packager);
      });
    } finally {
      await channel.close();
    }
  });

  test('a publisher without video is handed to the mixer', async () => {
    const channel = startChannel((source) => audioOnly(source));
    try {
      await holds(5000, () => {
        assert.deepEqual(channel.ended, ['no video track']);
      });
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
    } finally {
      await channel.close();
    }
  });

  test('frames of garbage do not stop the playlist', async () => {
    let count = 0;
    const garbled = (source: ReplaySource): FrameSource => ({
      onFrame: (listener) =>
        source.onFrame((frame) => {
          count += 1;
          // From the second second on, every fifth video frame (keyframes too) is noise of its own length.
          const noisy = frame.kind === 'video' && count > 90 && count % 5 === 0;
          listener(noisy ? { ...frame, data: noise(frame.data.length) } : frame);
        }),
      requestKeyframe: () => {
        source.requestKeyframe();
      },
      hasTrack: () => source.hasTrack(),
    });
    const channel = startChannel(garbled);
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      const listed = (): number => channel.output.packagers[0]?.stats().parts ?? 0;
      const before = listed();
      await sleep(3000);
      // Direct or mixed, parts keep coming: about six in 3 s.
      assert.ok(listed() - before >= 4, `${listed() - before} parts in 3 s (${channel.ended.join()})`);
    } finally {
      await channel.close();
    }
  });
});

/** Waits until `check` stops throwing; fails with its last error after `timeoutMs`. */
async function holds(timeoutMs: number, check: () => void): Promise<void> {
  await eventually(check.toString(), timeoutMs, () => {
    check();
    return Promise.resolve(true);
  });
}

function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function noise(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 2654435761 + 12345) >>> 24;
  return bytes;
}

/** The source with its video left out, as a publisher that sends only sound. */
function audioOnly(source: ReplaySource): FrameSource {
  return {
    onFrame: (listener) =>
      source.onFrame((frame: EncodedFrame) => {
        if (frame.kind === 'audio') listener(frame);
      }),
    requestKeyframe: () => {
      source.requestKeyframe();
    },
    hasTrack: (kind) => kind === 'audio',
  };
}
