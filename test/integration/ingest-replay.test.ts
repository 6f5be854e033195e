/**
 * Real Chromium publishers' RTP and Sender Reports (testdata/rtp, captured by tools/capture-rtp.ts) replayed
 * through the ingest: the frames it produces, written as Matroska, decode in ffmpeg without a single error,
 * also when the network reorders, duplicates and loses packets.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { matroskaFrame, matroskaHeader } from '../../src/container/matroska-writer.ts';
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';
import { PublisherIngest } from '../../src/rtp/publisher-ingest.ts';
import { parseSenderReports } from '../../src/rtp/rtcp.ts';
import { parseRtpPacket } from '../../src/rtp/rtp-packet.ts';
import { decodeErrors, run } from '../helpers/ffmpeg.ts';
import { readCapture, type CapturedPacket } from '../helpers/rtp-capture.ts';

const fixtures = ['h264-opus', 'vp8-opus', 'vp9-opus'];

function replay(
  packets: CapturedPacket[],
  codec: 'H264' | 'VP8' | 'VP9',
): { frames: EncodedFrame[]; ingest: PublisherIngest } {
  const ingest = new PublisherIngest(0);
  ingest.addTrack('opus');
  ingest.addTrack(codec);
  const frames: EncodedFrame[] = [];
  const take = (events: ReturnType<PublisherIngest['poll']>): void => {
    for (const event of events) if (event.type === 'frame') frames.push(event.frame);
  };
  for (const packet of packets) {
    take(ingest.poll(packet.t));
    if (packet.type === 'rtp') take(ingest.rtp(packet.kind, parseRtpPacket(packet.data), packet.t));
    else
      for (const report of parseSenderReports(packet.data))
        ingest.senderReport(packet.kind, report, packet.t);
  }
  take(ingest.poll((packets.at(-1)?.t ?? 0) + 5000));
  return { frames, ingest };
}

/** Writes one track as Matroska and decodes it fully: returns ffmpeg's error output and the frame count. */
async function decode(
  dir: string,
  name: string,
  frames: EncodedFrame[],
): Promise<{ errors: string; decoded: number }> {
  const first = frames[0];
  assert.ok(first !== undefined, `${name}: no frames`);
  const parts = [matroskaHeader([{ number: 1, codec: first.codec }])];
  for (const frame of frames) {
    parts.push(
      matroskaFrame(1, ((frame.ptsTicks ?? 0) * 1000) / frame.timescale, frame.keyframe, frame.data),
    );
  }
  const path = join(dir, `${name}.mkv`);
  await writeFile(path, Buffer.concat(parts));
  const errors = await decodeErrors(path);
  const probe = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    '0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    path,
  ]);
  return { errors, decoded: Number.parseInt(probe.stdout.trim(), 10) };
}

/**
 * The same packets as a bad network delivers them: reordered within 30 ms, 1 % duplicated, and after the first
 * 3 s (so the first keyframe survives: a replay cannot ask the sender for another) 2 % lost.
 */
function impair(packets: CapturedPacket[], seed: number): CapturedPacket[] {
  let state = seed;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const out: CapturedPacket[] = [];
  for (const packet of packets) {
    if (packet.type === 'rtp' && packet.t > 3000 && random() < 0.02) continue;
    out.push({ ...packet, t: packet.t + random() * 30 });
    if (random() < 0.01) out.push({ ...packet, t: packet.t + random() * 30 });
  }
  return out.sort((a, b) => a.t - b.t);
}

describe('ingest replay of captured Chromium RTP', () => {
  for (const name of fixtures) {
    test(`${name}: every frame decodes in ffmpeg with zero errors; audio and video are timed together`, async () => {
      const capture = readCapture(new URL(`../../testdata/rtp/${name}.jsonl`, import.meta.url).pathname);
      const codec = capture.header.tracks.video.codec;
      const { frames, ingest } = replay(capture.packets, codec);
      const dir = await mkdtemp(join(tmpdir(), 'nagare-replay-'));
      try {
        const video = frames.filter((f) => f.kind === 'video');
        const audio = frames.filter((f) => f.kind === 'audio');
        assert.ok(
          video.length > 60 && audio.length > 300,
          `${video.length} video, ${audio.length} audio frames`,
        );
        assert.ok(video[0]?.keyframe, 'video starts on a keyframe');
        for (const track of [video, audio]) {
          for (let i = 1; i < track.length; i++)
            assert.ok(track[i]!.ptsTicks! > track[i - 1]!.ptsTicks!, 'monotonic');
        }
        const videoResult = await decode(dir, `${name}-video`, video);
        assert.equal(videoResult.errors, '', 'video decodes without errors');
        assert.equal(videoResult.decoded, video.length);
        const audioResult = await decode(dir, `${name}-audio`, audio);
        assert.equal(audioResult.errors, '');
        assert.equal(audioResult.decoded, audio.length);
        // Both tracks of one publisher start within a second of each other on the channel clock.
        const startGapMs = Math.abs(video[0].ptsTicks! / 90 - audio[0]!.ptsTicks! / 48);
        assert.ok(startGapMs < 1000, `first video and audio frames ${startGapMs.toFixed(0)} ms apart`);
        const stats = ingest.stats();
        assert.equal(stats.tracks.video?.jitter.lost, 0);
        assert.ok((stats.clock.video?.senderReports ?? 0) > 0, 'video Sender Reports used');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test(`${name} through a bad network (reordered, duplicated, 2 % lost): what comes out still decodes cleanly`, async () => {
      const capture = readCapture(new URL(`../../testdata/rtp/${name}.jsonl`, import.meta.url).pathname);
      const { frames, ingest } = replay(impair(capture.packets, 99), capture.header.tracks.video.codec);
      const dir = await mkdtemp(join(tmpdir(), 'nagare-replay-'));
      try {
        const video = frames.filter((f) => f.kind === 'video');
        const stats = ingest.stats();
        assert.ok(
          (stats.tracks.video?.jitter.lost ?? 0) + (stats.tracks.audio?.jitter.lost ?? 0) > 0,
          'losses counted',
        );
        // A duplicate is dropped as a duplicate while the original is held, as late once it was released.
        const dropped = (['audio', 'video'] as const).reduce(
          (n, kind) =>
            n + (stats.tracks[kind]?.jitter.duplicates ?? 0) + (stats.tracks[kind]?.jitter.late ?? 0),
          0,
        );
        assert.ok(dropped > 0, 'duplicates dropped');
        assert.ok(video.length > 0 && video[0]!.keyframe, `${video.length} video frames`);
        assert.equal((await decode(dir, `${name}-lossy-video`, video)).errors, '');
        assert.equal(
          (
            await decode(
              dir,
              `${name}-lossy-audio`,
              frames.filter((f) => f.kind === 'audio'),
            )
          ).errors,
          '',
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
