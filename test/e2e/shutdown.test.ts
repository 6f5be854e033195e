/**
 * SIGTERM to the real CLI while a sora-js-sdk publisher is live and a viewer waits on a blocking playlist request:
 * the viewer's request is answered with the playlist ended (EXT-X-ENDLIST), the publisher is closed with 1000 (the
 * SDK's normal SHUTDOWN), the process exits 0 within the 5 s the test allows, and after a restart on the same data
 * directory the channel is still there and takes a publisher again.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { e2eSkipReason, launchBrowser, type BrowserHandle } from './harness/chromium.ts';
import { startPageServer, type PageServer } from './harness/page-server.ts';
import { openSoraClient } from './harness/sora-page.ts';
import { eventually } from '../helpers/eventually.ts';
import { mediaPlaylistUrl } from '../helpers/hls-media.ts';
import { callApi, createChannel, makeTempDir, spawnServer, type ServerProcess } from '../helpers/server.ts';

const skip = e2eSkipReason();
const token = 'shutdown-token-0123456789abcdef';

describe('graceful shutdown of the real process', { skip, timeout: 120_000 }, () => {
  let browser: BrowserHandle;
  let pages: PageServer;
  let dataDir = '';
  const servers: ServerProcess[] = [];

  before(async () => {
    browser = await launchBrowser();
    pages = await startPageServer();
    dataDir = await makeTempDir('nagare-shutdown-');
  });

  after(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await browser.close();
    await pages.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async (): Promise<ServerProcess> => {
    const server = await spawnServer(['--data-dir', dataDir, '--api-token', token, '--part-duration', '0.5']);
    servers.push(server);
    return server;
  };
  const signalingUrl = (server: ServerProcess): string => `${server.url.replace(/^http/, 'ws')}/signaling`;

  test('SIGTERM: held playlist requests get EXT-X-ENDLIST, publishers close with 1000, exit 0; the channel survives', async () => {
    const first = await start();
    const channelId = await createChannel(first.url, undefined, token);
    const described = await callApi(
      first.url,
      'Nagare_20261124.DescribeChannel',
      { channel_id: channelId },
      token,
    );
    const playlistUrl = (described.json as { playlist_url: string }).playlist_url;
    const publisher = await openSoraClient(browser, pages.url);
    const connected = await publisher.connect({
      signalingUrl: signalingUrl(first),
      channelId,
      role: 'sendonly',
    });
    assert.ok('connectionId' in connected, JSON.stringify(connected));

    // A viewer blocking on a part far enough ahead that only the end of the stream answers it: two whole
    // segments (4 s) ahead, once the stream is past its short first two (the server holds at most two ahead).
    const media = await eventually('the playlist', 30_000, () => mediaPlaylistUrl(playlistUrl));
    const lastMsn = await eventually('a third segment', 30_000, async () => {
      const text = await (await fetch(media)).text();
      const msn = Math.max(
        ...[...text.matchAll(/^#EXT-X-PART:.*URI="(\d+)\.\d+\.m4s"/gm)].map((m) => Number(m[1])),
      );
      return msn >= 2 ? msn : undefined;
    });
    const held = fetch(new URL(`?_HLS_msn=${lastMsn + 2}&_HLS_part=0`, media)).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const stoppedAt = Date.now();
    const code = await first.stop('SIGTERM');
    const tookMs = Date.now() - stoppedAt;
    assert.equal(code, 0, `exit ${String(code)} after ${tookMs} ms\n${first.stderr()}`);
    const answer = await held;
    assert.equal(answer.status, 200);
    assert.match(answer.body, /#EXT-X-ENDLIST/, 'the held request learns the stream ended');
    const log = await publisher.waitFor(
      (s) => s.log.some((entry) => entry.event === 'disconnect'),
      5000,
      'the publisher to be disconnected',
    );
    const disconnect = log.log.find((entry) => entry.event === 'disconnect');
    assert.ok(disconnect?.event === 'disconnect');
    assert.equal(disconnect.code, 1000, JSON.stringify(disconnect));
    assert.equal(disconnect.type, 'normal');

    const second = await start();
    const again = await callApi(
      second.url,
      'Nagare_20261124.DescribeChannel',
      { channel_id: channelId },
      token,
    );
    assert.equal(again.status, 200);
    assert.equal((again.json as { state: string }).state, 'idle');
    const back = await publisher.connect({ signalingUrl: signalingUrl(second), channelId, role: 'sendonly' });
    assert.ok('connectionId' in back, JSON.stringify(back));
    await publisher.close();
  });
});
