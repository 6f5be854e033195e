/**
 * Live ingest: a Chromium publisher's RTP becomes timed frames on the server (SFU → PublisherFeed), and the
 * debug recording (--record-ingest-dir) holds files that ffprobe reads and ffmpeg decodes without errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { e2eSkipReason, launchBrowser, type BrowserHandle } from './harness/chromium.ts';
import { startPageServer, type PageServer } from './harness/page-server.ts';
import { openSoraClient } from './harness/sora-page.ts';
import { callApi, makeTempDir, startTestServer, validVariant, type TestServer } from '../helpers/server.ts';
import type { EncodedFrame } from '../../src/rtp/encoded-frame.ts';

const run = promisify(execFile);
const skip = e2eSkipReason();

describe('live ingest from a Chromium publisher', { skip, timeout: 120_000 }, () => {
  let server: TestServer | undefined;
  let pages: PageServer | undefined;
  let browser: BrowserHandle | undefined;
  let recordDir: string | undefined;

  before(async () => {
    recordDir = await makeTempDir('nagare-record-');
    server = await startTestServer({ recordIngestDir: recordDir });
    pages = await startPageServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await pages?.close();
    await server?.close();
    if (recordDir !== undefined) await rm(recordDir, { recursive: true, force: true });
  });

  for (const codec of ['H264', 'VP8'] as const) {
    test(`${codec}: frames flow in sync with Sender Reports, and the recording decodes cleanly`, async () => {
      assert.ok(server && pages && browser && recordDir, 'set-up failed');
      const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', {
        hls: [validVariant()],
      });
      const channelId = (created.json as { channel_id: string }).channel_id;
      const frames: EncodedFrame[] = [];
      const off = server.server.ingest.onFeed((feed) => {
        if (feed.channelId === channelId) feed.onFrame((frame) => frames.push(frame));
      });
      const page = await openSoraClient(browser, pages.url);
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
        const probe = await run('ffprobe', [
          '-v',
          'error',
          '-show_entries',
          'stream=codec_name',
          '-of',
          'csv=p=0',
          path,
        ]);
        assert.equal(
          probe.stdout.trim().replace(/,$/, ''),
          name.endsWith('video.mkv') ? codec.toLowerCase() : 'opus',
        );
        const decoded = await run('ffmpeg', [
          '-v',
          'error',
          '-xerror',
          '-i',
          path,
          '-fps_mode',
          'passthrough',
          '-enc_time_base',
          '-1',
          '-f',
          'null',
          '-',
        ]);
        assert.equal(decoded.stderr.trim(), '', `${name} decodes without errors`);
      }
    });
  }
});
