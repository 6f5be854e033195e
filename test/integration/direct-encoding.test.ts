/**
 * Direct encoding with real ffmpeg: a playlist with one publisher (a captured Chromium publisher, H.264 + Opus,
 * replayed in real time) encoded by one ffmpeg from the publisher's frames to two variants, without a decoder or
 * mixer. ffprobe checks what the packagers list: codec, profile, exact size, rate, AAC, keyframes at the schedule's
 * boundaries in both variants. Then every way the direct run ends hands the playlist to the mixer, after a
 * discontinuity, from where the direct run stopped: another publisher (the caller ends it), its ffmpeg killed, the
 * publisher's video stopping, its ffmpeg frozen (falling behind), a publisher without video, frames of garbage; this
 * process held up for a while is not taken for ffmpeg falling behind. A VP8 publisher, and one whose
 * picture shrinks mid-stream (as a browser's does when its bandwidth drops), are encoded directly too.
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
import { loopStalls } from '../../src/lib/loop-stalls.ts';
import { HlsOutput, defaultMediaOptions } from '../../src/media/hls-output.ts';
import type { FrameSource } from '../../src/media/publisher-decoder.ts';
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';
import type { VariantPackager } from '../../src/hls/variant-packager.ts';
import { eventually } from '../helpers/eventually.ts';
import { probeKeyframes, run } from '../helpers/ffmpeg.ts';
import { ingestCapture, ReplaySource } from '../helpers/replay-source.ts';

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

function startChannel(
  feed: (source: ReplaySource) => FrameSource = (source) => source,
  played: EncodedFrame[] = frames,
): Channel {
  const epochMs = monotonicMs();
  const source = new ReplaySource(played);
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
    output.encodeDirect(feed(source), {
      ended: (reason) => {
        ended.push(reason);
      },
    }),
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

describe('direct encoding: one publisher to every variant in one ffmpeg', { timeout: 180_000 }, () => {
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
        const { streams, keyframes } = await probeKeyframes(path);
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

  test('encoded directly again while mixing: from the next keyframe, the mixer and its encoder stop', async () => {
    const channel = startChannel(undefined, looped(frames, 3));
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      channel.output.endDirect('a second publisher');
      // The mixer (the slate here: no decoder feeds it) lists parts of its own run.
      await holds(10_000, () => {
        for (const packager of channel.output.packagers) assertMixedAfterDirect(packager);
      });
      const mixerEncoder = channel.output.encoderPid;
      let took = 0;
      const ended: string[] = [];
      const direct = channel.output.encodeDirect(channel.source, {
        took: () => (took += 1),
        ended: (reason) => {
          ended.push(reason);
        },
      });
      assert.equal(direct, true);
      // Mixing goes on until the publisher's next keyframe (8.2 s into the capture).
      assert.equal(channel.output.direct, false);
      await holds(15_000, () => {
        assert.equal(took, 1);
      });
      assert.equal(channel.output.direct, true);
      assert.deepEqual(ended, []);
      await holds(5000, () => {
        assert.equal(isRunning(mixerEncoder), false);
      });
      await holds(10_000, () => {
        for (const packager of channel.output.packagers) {
          const runs = [...new Set(packager.segments.map((segment) => segment.initId))];
          // Direct, mixed, direct again (the first may have left the window).
          assert.deepEqual(runs.slice(-2), [2, 3]);
          const third = packager.segments.filter((segment) => segment.initId === 3);
          assert.ok(third.reduce((sum, segment) => sum + segment.parts.length, 0) >= 3);
          assert.equal(third[0]?.discontinuity, true);
          // Each segment starts at or after the end of the one before: runs never overlap.
          packager.segments.forEach((segment, index) => {
            const before = packager.segments[index - 1];
            if (before === undefined) return;
            const end = before.startSeconds + before.durationSeconds;
            assert.ok(
              segment.startSeconds >= end - 0.001,
              `segment ${segment.msn} at ${segment.startSeconds} < ${end}`,
            );
          });
        }
      });
      const stats = channel.output.stats() as { path: string; mixer: { ticks: number } };
      assert.equal(stats.path, 'direct');
      // The mixer's clock stopped with it.
      const ticks = stats.mixer.ticks;
      await sleep(500);
      assert.equal((channel.output.stats() as { mixer: { ticks: number } }).mixer.ticks, ticks);
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

  test('its ffmpeg frozen (SIGSTOP): it ends as fallen behind once a picture waited a part and 2.5 s', async () => {
    const channel = startChannel();
    let frozen: number | undefined;
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      frozen = channel.output.encoderPid;
      assert.ok(frozen !== undefined);
      process.kill(frozen, 'SIGSTOP');
      const frozenAt = monotonicMs();
      await holds(8000, () => {
        assert.deepEqual(channel.ended, ['fell behind real time']);
      });
      const waited = monotonicMs() - frozenAt;
      assert.ok(waited >= 2500, `ended ${waited} ms after ffmpeg froze`);
      await holds(10_000, () => {
        for (const packager of channel.output.packagers) assertMixedAfterDirect(packager);
      });
    } finally {
      if (frozen !== undefined && isRunning(frozen)) process.kill(frozen, 'SIGCONT');
      await channel.close();
    }
  });

  test('this process held up for 3 s (a busy loop) is not taken for ffmpeg falling behind', async () => {
    // The server's ingest watches the loop (loopStalls); here the test watches it as the ingest would.
    loopStalls.start();
    const channel = startChannel();
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      const heldUntil = monotonicMs() + 3000;
      while (monotonicMs() < heldUntil) {
        // The frames due meanwhile wait, then come at once; ffmpeg's output waits in its pipe.
      }
      await sleep(3000);
      assert.deepEqual(channel.ended, []);
      assert.equal(channel.output.direct, true);
    } finally {
      loopStalls.stop();
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

  test('a publisher whose keyframe never comes is handed to the mixer after 10 s', async () => {
    const keyless = (source: ReplaySource): FrameSource =>
      rewritten(source, (frame) => (!frame.keyframe || frame.kind === 'audio' ? frame : undefined));
    const channel = startChannel(keyless);
    try {
      await sleep(9000);
      assert.deepEqual(channel.ended, [], 'still waiting for a keyframe');
      await holds(3000, () => {
        assert.deepEqual(channel.ended, ['no keyframe came']);
      });
      // The mixer's slate makes it playable.
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
    } finally {
      await channel.close();
    }
  });

  test('a VP8 publisher: encoded directly to H.264 of the asked size', async () => {
    const vp8 = ingestCapture(new URL('../../testdata/rtp/vp8-opus.jsonl', import.meta.url).pathname);
    assert.ok(vp8.some((frame) => frame.codec === 'VP8'));
    const channel = startChannel(undefined, vp8);
    const dir = await mkdtemp(join(tmpdir(), 'nagare-direct-'));
    try {
      await holds(10_000, () => {
        assert.equal(channel.output.playable, true);
      });
      assert.deepEqual(channel.ended, []);
      const path = join(dir, 'v0.mp4');
      const [packager] = channel.output.packagers;
      assert.ok(packager !== undefined);
      await writeFile(path, firstRun(packager));
      const video = (await probeKeyframes(path)).streams.find((s) => s['codec_type'] === 'video');
      assert.equal(video?.['codec_name'], 'h264');
      assert.equal(`${video['width']}x${video['height']}`, '640x480');
    } finally {
      await channel.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the publisher’s picture shrinks mid-stream: parts keep coming at the asked size', async () => {
    // The capture's sound throughout; its pictures for 3 s, then 320x240 ones.
    const switchMs = ((frames.find((f) => f.kind === 'video')?.ptsTicks ?? 0) * 1000) / 90_000 + 3000;
    const timeOf = (frame: EncodedFrame): number => ((frame.ptsTicks ?? 0) * 1000) / frame.timescale;
    const played = [
      ...frames.filter((frame) => frame.kind === 'audio' || timeOf(frame) < switchMs),
      ...(await smallerPictures(6, switchMs)),
    ].sort((a, b) => timeOf(a) - timeOf(b));
    const channel = startChannel(undefined, played);
    const dir = await mkdtemp(join(tmpdir(), 'nagare-direct-'));
    try {
      await sleep(8000);
      assert.deepEqual(channel.ended, [], 'still direct');
      const [packager] = channel.output.packagers;
      assert.ok(packager !== undefined);
      // Parts of 0.5 s all along, over the change at 3 s: 15 from the first keyframe's to 8 s.
      assert.ok(packager.stats().parts >= 12, `${packager.stats().parts} parts`);
      const path = join(dir, 'v0.mp4');
      await writeFile(path, firstRun(packager));
      const { stdout } = await run('ffprobe', [
        ...['-v', 'error', '-select_streams', 'v', '-show_frames', '-show_entries', 'frame=width,height'],
        ...['-of', 'json', path],
      ]);
      const shown = (JSON.parse(stdout) as { frames: { width: number; height: number }[] }).frames;
      assert.deepEqual([...new Set(shown.map((frame) => `${frame.width}x${frame.height}`))], ['640x480']);
      assert.ok(shown.length >= 180, `${shown.length} frames: on both sides of the change`);
    } finally {
      await channel.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('frames of garbage do not stop the playlist', async () => {
    let count = 0;
    const garbled = (source: ReplaySource): FrameSource =>
      rewritten(source, (frame) => {
        count += 1;
        // From the second second on, every fifth video frame (keyframes too) is noise of its own length.
        const noisy = frame.kind === 'video' && count > 90 && count % 5 === 0;
        return noisy ? { ...frame, data: noise(frame.data.length) } : frame;
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

/**
 * `seconds` of a 320x240 H.264 test picture at 30 fps as the ingest hands frames on (one access unit each, Annex B,
 * SPS and PPS before every IDR), times from `fromMs` on the channel clock.
 */
async function smallerPictures(seconds: number, fromMs: number): Promise<EncodedFrame[]> {
  const { stdout } = await run(
    'ffmpeg',
    [
      ...['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=30`, '-t', String(seconds)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '30', '-x264-params', 'aud=1'],
      ...['-bsf:v', 'h264_mp4toannexb', '-f', 'h264', 'pipe:1'],
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const stream = new Uint8Array(stdout);
  // Access units begin at an access unit delimiter (NAL type 9) after a 4-byte start code.
  const starts: number[] = [];
  for (let i = 0; i + 4 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 0 && stream[i + 3] === 1) {
      if (((stream[i + 4] ?? 0) & 0x1f) === 9) starts.push(i);
    }
  }
  return starts.map((start, index) => {
    const data = stream.subarray(start, starts[index + 1] ?? stream.length);
    let keyframe = false;
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1 && ((data[i + 3] ?? 0) & 0x1f) === 5)
        keyframe = true;
    }
    const timeMs = fromMs + (index * 1000) / 30;
    return {
      kind: 'video',
      codec: 'H264',
      keyframe,
      data,
      rtpTime: timeMs * 90,
      ptsTicks: timeMs * 90,
      timescale: 90_000,
    };
  });
}

/** The capture `times` over, one after the other on the channel clock. */
function looped(captured: readonly EncodedFrame[], times: number): EncodedFrame[] {
  const timeOf = (frame: EncodedFrame): number => ((frame.ptsTicks ?? 0) * 1000) / frame.timescale;
  const spanMs = Math.max(...captured.map(timeOf)) - Math.min(...captured.map(timeOf)) + 40;
  const out: EncodedFrame[] = [];
  for (let loop = 0; loop < times; loop++) {
    for (const frame of captured) {
      out.push({
        ...frame,
        ptsTicks: Math.round(((timeOf(frame) + loop * spanMs) * frame.timescale) / 1000),
      });
    }
  }
  return out;
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

/** The source with each frame passed through `rewrite` (left out where it gives undefined). */
function rewritten(
  source: ReplaySource,
  rewrite: (frame: EncodedFrame) => EncodedFrame | undefined,
  hasTrack: FrameSource['hasTrack'] = () => source.hasTrack(),
): FrameSource {
  return {
    onFrame: (listener) =>
      source.onFrame((frame) => {
        const passed = rewrite(frame);
        if (passed !== undefined) listener(passed);
      }),
    requestKeyframe: () => {
      source.requestKeyframe();
    },
    hasTrack,
  };
}

/** The source with its video left out, as a publisher that sends only sound. */
function audioOnly(source: ReplaySource): FrameSource {
  return rewritten(
    source,
    (frame) => (frame.kind === 'audio' ? frame : undefined),
    (kind) => kind === 'audio',
  );
}
