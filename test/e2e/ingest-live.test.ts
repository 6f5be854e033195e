/**
 * Live ingest: a Chromium publisher's RTP becomes timed frames on the server (SFU → PublisherFeed), and the
 * debug recording (--record-ingest-dir) holds files that ffprobe reads and ffmpeg decodes without errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { openSoraClient } from './harness/sora-page.ts';
import { decodeErrors, probeStream } from '../helpers/ffmpeg.ts';
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';

const skip = e2eSkipReason();

describe('live ingest from a Chromium publisher', { skip, timeout: 120_000 }, () => {
  const recordDir = mkdtempSync(join(tmpdir(), 'nagare-record-'));
  const env = useE2eEnvironment({ recordIngestDir: recordDir });
  after(() => rm(recordDir, { recursive: true, force: true }));

  for (const codec of ['H264', 'VP8'] as const) {
    test(`${codec}: frames flow in sync with Sender Reports, and the recording decodes cleanly`, async () => {
      const server = env.server;
      const channelId = await env.newChannel();
      const frames: EncodedFrame[] = [];
      const off = server.server.ingest.onFeed((feed) => {
        if (feed.channelId === channelId) feed.onFrame((frame) => frames.push(frame));
      });
      const page = await openSoraClient(env.browser, env.pages.url);
      try {
        const result = await page.connect({
          signalingUrl: `ws://127.0.0.1:${server.server.port}/signaling`,
          channelId,
          role: 'sendonly',
          options: { videoCodecType: codec },
        });
        assert.ok('connectionId' in result, JSON.stringify(result));
        await sleep(6000);
        const feed = server.server.ingest.feeds(channelId)[0];
        assert.ok(feed !== undefined, 'a feed for the publisher');
        const stats = feed.stats();
        assert.ok((stats.tracks.video?.keyframes ?? 0) >= 1, JSON.stringify(stats.tracks.video));
        const transport = await feed.transportStats();
        assert.ok((transport.video?.plisSent ?? 0) >= 1, `PLIs counted: ${JSON.stringify(transport)}`);
        assert.equal(stats.clock.audio?.mode, 'sender-report');
        assert.equal(stats.clock.video?.mode, 'sender-report');
        const video = frames.filter((f) => f.kind === 'video');
        const audio = frames.filter((f) => f.kind === 'audio');
        assert.ok(video.length > 60, `${video.length} video frames`);
        assert.ok(audio.length > 200, `${audio.length} audio frames`);
        assert.equal(video[0]?.codec, codec);
        assert.ok(video[0].keyframe);
        const lastVideoMs = (video.at(-1)?.ptsTicks ?? 0) / 90;
        const lastAudioMs = (audio.at(-1)?.ptsTicks ?? 0) / 48;
        assert.ok(
          Math.abs(lastVideoMs - lastAudioMs) < 500,
          `video ${lastVideoMs} ms, audio ${lastAudioMs} ms`,
        );
      } finally {
        off();
        await page.close();
      }
      // The publisher left: its recording is closed. ffprobe reads it; ffmpeg decodes all of it cleanly.
      await sleep(500);
      const files = (await readdir(recordDir)).filter((name) => name.startsWith(channelId.slice(0, 8)));
      assert.deepEqual(files.map((name) => name.replace(/^.*-/, '')).sort(), ['audio.mkv', 'video.mkv']);
      for (const name of files) {
        const path = join(recordDir, name);
        const codecName = await probeStream(path, 'codec_name');
        assert.equal(codecName, name.endsWith('video.mkv') ? codec.toLowerCase() : 'opus');
        const errors = await decodeErrors(path);
        assert.equal(errors, '', `${name} decodes without errors`);
      }
    });
  }
});
