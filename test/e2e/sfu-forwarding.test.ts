/**
 * The unmodified sora-js-sdk in Chromium against Nagare's signaling and SFU: publish, receive, converse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { e2eSkipReason, launchBrowser, type BrowserHandle } from './harness/chromium.ts';
import { startPageServer, type PageServer } from './harness/page-server.ts';
import { openSoraClient, type SoraClientPage } from './harness/sora-page.ts';
import { callApi, startTestServer, validVariant, type TestServer } from '../helpers/server.ts';

const skip = e2eSkipReason();

describe('SFU forwarding with sora-js-sdk in Chromium', { skip, timeout: 180_000 }, () => {
  let server: TestServer;
  let pages: PageServer;
  let browser: BrowserHandle;
  const opened: SoraClientPage[] = [];

  before(async () => {
    server = await startTestServer();
    pages = await startPageServer();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const client of opened) await client.close().catch(() => undefined);
    await browser?.close();
    await pages?.close();
    await server?.close();
  });

  const signalingUrl = () => `ws://127.0.0.1:${server.server.port}/signaling`;
  const newChannel = async (): Promise<string> => {
    const created = await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
    assert.equal(created.status, 200);
    return (created.json as { channel_id: string }).channel_id;
  };
  const client = async (): Promise<SoraClientPage> => {
    const page = await openSoraClient(browser, pages.url);
    opened.push(page);
    return page;
  };

  for (const codec of ['H264', 'VP8'] as const) {
    test(`sendonly ${codec} reaches a recvonly receiver, which decodes frames of that codec`, async () => {
      const channelId = await newChannel();
      const publisher = await client();
      const viewer = await client();
      const published = await publisher.connect({
        signalingUrl: signalingUrl(),
        channelId,
        role: 'sendonly',
        options: { videoCodecType: codec },
      });
      assert.ok('connectionId' in published, JSON.stringify(published));
      const received = await viewer.connect({ signalingUrl: signalingUrl(), channelId, role: 'recvonly' });
      assert.ok('connectionId' in received, JSON.stringify(received));
      const snapshot = await viewer.waitFor(
        (s) => s.inbound.some((r) => r.kind === 'video' && (r.framesDecoded ?? 0) > 10),
        20_000,
        'receiver decodes video',
      );
      const video = snapshot.inbound.find((r) => r.kind === 'video');
      assert.equal(video?.codecMimeType?.toLowerCase(), `video/${codec.toLowerCase()}`);
      assert.ok(snapshot.inbound.some((r) => r.kind === 'audio' && r.packetsReceived > 0));
      assert.deepEqual(await viewer.remoteStreamIds(), [published.connectionId]);
      await publisher.disconnect();
      await viewer.disconnect();
    });
  }
});
