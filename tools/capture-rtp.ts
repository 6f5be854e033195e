/**
 * Captures a real publisher's RTP and RTCP Sender Reports, as they arrive at Nagare's SFU, into a fixture file:
 * Chromium (fake camera and microphone) publishes with sora-js-sdk; every packet is written with its arrival time.
 *
 *   node tools/capture-rtp.ts H264 6 testdata/rtp/h264-opus.jsonl
 *
 * Format (JSON lines): a header `{"format":"nagare-rtp-capture/1", ...}`, then `{"t":ms,"kind":"audio"|"video",
 * "type":"rtp"|"rtcp","data":base64}` per packet, `t` counted from the first packet.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser } from '../test/e2e/harness/chromium.ts';
import { startPageServer } from '../test/e2e/harness/page-server.ts';
import { openSoraClient } from '../test/e2e/harness/sora-page.ts';
import { callApi, startTestServer, validVariant } from '../test/helpers/server.ts';

const [codec = 'H264', secondsText = '6', out = `testdata/rtp/${codec.toLowerCase()}-opus.jsonl`] =
  process.argv.slice(2);
if (!['H264', 'VP8', 'VP9'].includes(codec)) throw new Error('codec must be H264, VP8 or VP9');
const seconds = Number(secondsText);

const server = await startTestServer();
const pages = await startPageServer();
const browser = await launchBrowser();
const lines: string[] = [];
try {
  const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
  const channelId = (created.json as { channel_id: string }).channel_id;
  const page = await openSoraClient(browser, pages.url);
  const result = await page.connect({
    signalingUrl: `ws://127.0.0.1:${server.server.port}/signaling`,
    channelId,
    role: 'sendonly',
    options: { videoCodecType: codec },
  });
  if (!('connectionId' in result)) throw new Error(JSON.stringify(result));
  let tracks = server.server.sfu.existingRoom(channelId)?.participants()[0]?.publishedTracks ?? [];
  for (let i = 0; i < 50 && tracks.length < 2; i++) {
    await sleep(100);
    tracks = server.server.sfu.existingRoom(channelId)?.participants()[0]?.publishedTracks ?? [];
  }
  let start: number | undefined;
  const record = (kind: string, type: string, bytes: Uint8Array): void => {
    const now = performance.now();
    start ??= now;
    lines.push(
      JSON.stringify({
        t: Math.round((now - start) * 1000) / 1000,
        kind,
        type,
        data: Buffer.from(bytes).toString('base64'),
      }),
    );
  };
  for (const track of tracks) {
    track.onPacket((rtp) => {
      record(track.kind, 'rtp', rtp.serialize());
    });
    track.onRtcp((bytes) => {
      record(track.kind, 'rtcp', bytes);
    });
  }
  // The keyframe the SFU asked for at the start went by before recording began: ask again (after the
  // 500 ms request limiter), so the capture holds packets before a keyframe and then a whole keyframe.
  await sleep(600);
  for (const track of tracks) track.requestKeyframe();
  await sleep(seconds * 1000);
  const header = {
    format: 'nagare-rtp-capture/1',
    source: `Chromium fake camera and microphone, sora-js-sdk ${await page.version()}, sendonly ${codec}`,
    tracks: { audio: { codec: 'opus', clockRate: 48000 }, video: { codec, clockRate: 90000 } },
    seconds,
  };
  writeFileSync(out, `${[JSON.stringify(header), ...lines].join('\n')}\n`);
  console.log(`${out}: ${lines.length} packets`);
  await page.close();
} finally {
  await browser.close();
  await pages.close();
  await server.close();
}
