/**
 * A server with HLS on a port of its own (`--hls-port`): a real publisher (werift, replaying a Chromium capture over
 * WebRTC) into a real channel, its playlist URL from CreateChannel, and what the HLS workers answer there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReplayPublisher } from '../helpers/replay-publisher.ts';
import { callApi, scrapeMetrics, startTestServer, validVariant } from '../helpers/server.ts';

async function text(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

test('a channel played from the HLS port: the playlist URL points there, and the workers serve the live stream', async () => {
  const t = await startTestServer({ hlsPort: 0, hlsWorkers: 2 });
  try {
    const hlsPort = t.server.hlsPort;
    assert.ok(hlsPort !== undefined && hlsPort !== t.server.port);
    const created = await callApi(t.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
    assert.equal(created.status, 200);
    const { channel_id: channelId, playlist_url: playlistUrl } = created.json as {
      channel_id: string;
      playlist_url: string;
    };
    assert.match(
      playlistUrl,
      new RegExp(`^http://127\\.0\\.0\\.1:${hlsPort}/hls/[0-9a-f]{32}/index\\.m3u8$`),
    );
    const publisher = await startReplayPublisher(`${t.url.replace('http', 'ws')}/signaling`, channelId);
    try {
      const multivariant = await text(playlistUrl);
      assert.equal(multivariant.status, 200, multivariant.body);
      const mediaUrl = new URL(multivariant.body.trim().split('\n').at(-1) ?? '', playlistUrl).href;
      let media = await text(mediaUrl);
      const deadline = performance.now() + 20_000;
      while (!/^\d+\.m4s$/m.test(media.body)) {
        assert.ok(performance.now() < deadline, `no complete segment listed: ${media.body}`);
        await sleep(200);
        media = await text(mediaUrl);
      }
      // The main port serves the same playlist: the workers' copy is the main thread's. A part comes every 0.2 s,
      // so the two are fetched at once, a few times if need be.
      const mainUrl = mediaUrl.replace(`:${hlsPort}/`, `:${t.server.port}/`);
      let same = false;
      for (let attempt = 0; attempt < 10 && !same; attempt += 1) {
        const [fromWorker, fromMain] = await Promise.all([text(mediaUrl), text(mainUrl)]);
        same = fromWorker.body === fromMain.body;
      }
      assert.ok(same, 'the HLS port and the main port list different media');
      const again = await text(mediaUrl);
      // A segment from the workers is byte for byte the main thread's.
      const segment = /^(\d+)\.m4s$/m.exec(media.body)?.[1];
      const bytesFrom = async (url: string): Promise<Buffer> =>
        Buffer.from(await (await fetch(url)).arrayBuffer());
      const bytes = await bytesFrom(new URL(`${segment}.m4s`, mediaUrl).href);
      assert.equal(bytes.subarray(4, 8).toString('latin1'), 'moof');
      assert.ok(
        bytes.equals(await bytesFrom(new URL(`${segment}.m4s`, mainUrl).href)),
        'the ports serve other bytes',
      );
      // A blocking request for the next part is answered when the part comes.
      const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"/.exec(again.body);
      assert.ok(hint !== null, again.body);
      const blocked = await text(`${mediaUrl}?_HLS_msn=${hint[1]}&_HLS_part=${hint[2]}`);
      assert.equal(blocked.status, 200);
      assert.ok(blocked.body.includes(`URI="${hint[1]}.${hint[2]}.m4s"`), blocked.body);
      // What the workers answered reaches /metrics (they report twice a second).
      await sleep(700);
      const metrics = await scrapeMetrics(t.url);
      assert.ok((metrics.get('nagare_hls_requests_total{resource="media"}') ?? 0) >= 3);
      assert.ok((metrics.get('nagare_hls_requests_total{resource="segment"}') ?? 0) >= 1);
      assert.equal(metrics.get('nagare_hls_worker_restarts_total'), 0);
      // The replay publisher is werift, whose Sender Reports carry whole NTP seconds: none is used.
      assert.ok((metrics.get('nagare_rtcp_sender_reports_ignored_total{kind="video"}') ?? 0) >= 1);
    } finally {
      await publisher.close();
    }
  } finally {
    await t.close();
  }
});

test('with --hls-public-url, playlist URLs start with it', async () => {
  const t = await startTestServer({
    hlsPort: 0,
    hlsWorkers: 1,
    hlsPublicUrl: 'https://hls.example.com/live/',
  });
  try {
    const created = await callApi(t.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
    assert.equal(created.status, 200);
    const { playlist_url: playlistUrl } = created.json as { playlist_url: string };
    assert.match(playlistUrl, /^https:\/\/hls\.example\.com\/live\/hls\/[0-9a-f]{32}\/index\.m3u8$/);
  } finally {
    await t.close();
  }
});
