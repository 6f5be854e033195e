/**
 * Self-test of the browser harness, independent of Nagare's server: the page loads the real sora-js-sdk, a
 * synthetic source really produces media, the page's hooks see signaling callbacks, and nothing outlives close().
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { e2eSkipReason, launchBrowser, type BrowserHandle } from './harness/chromium.ts';
import { startPageServer, type PageServer } from './harness/page-server.ts';
import { openSoraClient, type SoraClientPage } from './harness/sora-page.ts';

const red = { color: '#ff0000', toneHz: 440 };

test('the page server serves sora.js and the client page as JavaScript/HTML and nothing else', async () => {
  const server = await startPageServer();
  try {
    const expected = {
      '/sora.js': 'text/javascript',
      '/sora-client.js': 'text/javascript',
      '/sora-client.html': 'text/html',
    };
    for (const [path, type] of Object.entries(expected)) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
      assert.ok((await res.text()).length > 0, path);
    }
    for (const path of ['/', '/favicon.ico', '/package.json', '/../package.json', '/sora.js.map']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 404, path);
    }
  } finally {
    await server.close();
  }
});

describe('the Sora client page in Chromium', { skip: e2eSkipReason() }, () => {
  let pages: PageServer;
  let browser: BrowserHandle;
  let client: SoraClientPage;

  before(async () => {
    pages = await startPageServer();
    browser = await launchBrowser();
    client = await openSoraClient(browser, pages.url);
  });
  after(async () => {
    await browser.close();
    await pages.close();
  });

  test('loads the npm sora-js-sdk 2026.1.0 as an ES module', async () => {
    assert.equal(await client.version(), '2026.1.0');
  });

  test('a {color, toneHz} source gives a live 640x480 video track that renders frames and a live tone', async () => {
    const report = await client.testSource(red);
    const video = report.tracks.find((track) => track.kind === 'video');
    const audio = report.tracks.find((track) => track.kind === 'audio');
    assert.ok(video && audio, JSON.stringify(report));
    assert.equal(video.readyState, 'live');
    assert.equal(audio.readyState, 'live');
    assert.deepEqual([video.settings.width, video.settings.height], [640, 480]);
    assert.deepEqual(
      [report.rendered.width, report.rendered.height, report.rendered.framesSeen >= 3],
      [640, 480, true],
    );
    assert.equal(audio.settings.sampleRate, 48000);
    assert.ok(report.audioRms > 0.2, `tone RMS ${report.audioRms}`);
  });

  test('connect records notify and push, answers pings until dropPongs, and reports a close as ConnectError', async () => {
    const signaling = await startFakeSignaling();
    try {
      const result = client.connect({
        signalingUrl: signaling.url,
        channelId: 'harness-ch',
        role: 'sendrecv',
        metadata: { access_token: 'x' },
        options: { videoCodecType: 'VP8' },
        source: red,
      });
      const socket = await signaling.connected;
      const connect = await signaling.nextMessage();
      assert.equal(connect.type, 'connect');
      assert.equal(connect.channel_id, 'harness-ch');
      assert.equal(connect.role, 'sendrecv');
      assert.deepEqual(connect.metadata, { access_token: 'x' });
      assert.deepEqual(connect.video, { codec_type: 'VP8' });

      // The SDK handles notify, push and ping before the offer, so no WebRTC is needed to check the hooks.
      socket.send(
        JSON.stringify({ type: 'notify', event_type: 'connection.created', connection_id: 'OTHER' }),
      );
      socket.send(JSON.stringify({ type: 'push', data: { n: 1 } }));
      socket.send(JSON.stringify({ type: 'ping', stats: false }));
      assert.deepEqual(await signaling.nextMessage(), { type: 'pong' });
      const seen = await client.waitFor(
        (s) => s.log.some((e) => e.event === 'notify') && s.log.some((e) => e.event === 'push'),
        5_000,
        'notify and push in the log',
      );
      assert.deepEqual(
        seen.log.map((e) => e.event),
        ['notify', 'push'],
      );

      await client.dropPongs();
      socket.send(JSON.stringify({ type: 'ping', stats: false }));
      await client.waitFor((s) => s.log.some((e) => e.event === 'pong-dropped'), 5_000, 'a dropped pong');
      assert.equal(signaling.pending(), 0, 'no pong reached the server');
      assert.deepEqual(
        (await client.log()).map((e) => e.event),
        ['notify', 'push', 'pong-dropped'],
      );
      await client.dropPongs(false);

      socket.close(4001, 'TEST-REJECTED');
      assert.deepEqual(await result, {
        error: {
          name: 'ConnectError',
          message: "Signaling failed. CloseEventCode:4001 CloseEventReason:'TEST-REJECTED'",
          code: 4001,
          reason: 'TEST-REJECTED',
        },
      });
    } finally {
      await signaling.close();
    }
  });
});

test(
  'closing the browser leaves no Chromium process and removes the profile',
  { skip: e2eSkipReason() },
  async () => {
    const pages = await startPageServer();
    const browser = await launchBrowser();
    try {
      const client = await openSoraClient(browser, pages.url);
      await client.testSource('camera'); // starts the audio and video capture services too
      assert.notEqual(await pgrep(browser.profileDir), '', 'pgrep finds the running browser');
    } finally {
      await browser.close();
      await pages.close();
    }
    assert.equal(await pgrep(browser.profileDir), '');
    assert.equal(existsSync(browser.profileDir), false);
  },
);

/** `pgrep -f`'s output: empty when nothing matches (exit status 1). */
async function pgrep(pattern: string): Promise<string> {
  try {
    return (await promisify(execFile)('pgrep', ['-a', '-f', pattern])).stdout;
  } catch (error) {
    if ((error as { code?: unknown }).code === 1) return '';
    throw error;
  }
}

interface FakeSignaling {
  url: string;
  connected: Promise<WebSocket>;
  /** The next JSON message from the client, in order. */
  nextMessage(): Promise<Record<string, unknown>>;
  /** Messages received and not yet taken. */
  pending(): number;
  close(): Promise<void>;
}

/** A WebSocket that speaks just enough Sora to exercise the page before any offer. */
async function startFakeSignaling(): Promise<FakeSignaling> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const received: Record<string, unknown>[] = [];
  const waiters: ((message: Record<string, unknown>) => void)[] = [];
  const connected = new Promise<WebSocket>((resolve) => {
    wss.once('connection', (socket) => {
      socket.on('message', (data) => {
        // ws hands text frames over as one Buffer (binaryType 'nodebuffer', fragments joined).
        const message = JSON.parse((data as Buffer).toString('utf8')) as Record<string, unknown>;
        const waiter = waiters.shift();
        if (waiter) waiter(message);
        else received.push(message);
      });
      resolve(socket);
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/signaling`,
    connected,
    nextMessage: () => {
      const message = received.shift();
      if (message) return Promise.resolve(message);
      return new Promise((resolve, reject) => {
        const waiter = (next: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(next);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error('no signaling message from the page within 5 s'));
        }, 5_000);
        waiters.push(waiter);
      });
    },
    pending: () => received.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => {
          resolve();
        });
      }),
  };
}
