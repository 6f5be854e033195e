/**
 * Signaling under stress with the real sora-js-sdk: silent clients are dropped, an attacked channel does not
 * disturb another, and connections leave nothing behind.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { openSoraClient, type SoraClientPage } from './harness/sora-page.ts';
import { callApi } from '../helpers/server.ts';

const skip = e2eSkipReason();

/** Handles of this process by type, e.g. { UDPWRAP: 2, Timeout: 3 }. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

describe('signaling robustness with sora-js-sdk in Chromium', { skip, timeout: 180_000 }, () => {
  const env = useE2eEnvironment({}, { signaling: { pingIntervalMs: 250, pongTimeoutMs: 1500 } });
  const signalingUrl = () => env.signalingUrl();
  const newChannel = () => env.newChannel();
  const client = (): Promise<SoraClientPage> => openSoraClient(env.browser, env.pages.url);

  test('a client that stops answering pings is dropped (PONG-TIMEOUT-ERROR)', async () => {
    const channelId = await newChannel();
    const page = await client();
    try {
      const result = await page.connect({ signalingUrl: signalingUrl(), channelId, role: 'recvonly' });
      assert.ok('connectionId' in result, JSON.stringify(result));
      await sleep(1000);
      assert.ok(
        !(await page.log()).some((e) => e.event === 'disconnect'),
        'still connected while it answers',
      );
      await page.dropPongs();
      const snapshot = await page.waitFor(
        (s) => s.log.some((e) => e.event === 'disconnect'),
        10_000,
        'dropped',
      );
      const event = snapshot.log.find((e) => e.event === 'disconnect');
      assert.ok(event?.event === 'disconnect');
      assert.equal(event.code, 4408);
      assert.equal(event.reason, 'PONG-TIMEOUT-ERROR');
      const listed = await callApi(env.server.url, 'Sora_20201013.ListChannelConnections', {
        channel_id: channelId,
      });
      assert.deepEqual(listed.json, []);
    } finally {
      await page.close();
    }
  });

  test("another channel's media keeps flowing while one channel's signaling is attacked", async () => {
    const calm = await newChannel();
    const attacked = await newChannel();
    const publisher = await client();
    const viewer = await client();
    const sockets: WebSocket[] = [];
    try {
      assert.ok(
        'connectionId' in
          (await publisher.connect({ signalingUrl: signalingUrl(), channelId: calm, role: 'sendonly' })),
      );
      assert.ok(
        'connectionId' in
          (await viewer.connect({ signalingUrl: signalingUrl(), channelId: calm, role: 'recvonly' })),
      );
      const decoded = async (): Promise<number> =>
        (await viewer.inboundStats()).find((r) => r.kind === 'video')?.framesDecoded ?? 0;
      await viewer.waitFor(
        (s) => s.inbound.some((r) => (r.framesDecoded ?? 0) > 10),
        15_000,
        'calm channel plays',
      );
      const before = await decoded();

      const garbage = [
        'not json',
        '[]',
        '{"type":"connect"}',
        JSON.stringify({ type: 'connect', role: 'sendonly', channel_id: attacked, audio: true, video: true }),
        JSON.stringify({ type: 'answer', sdp: 'v=0\r\nnonsense' }),
        'x'.repeat(300 * 1024),
      ];
      const deadline = Date.now() + 3000;
      let rounds = 0;
      while (Date.now() < deadline) {
        for (const frame of garbage) {
          const ws = new WebSocket(signalingUrl());
          sockets.push(ws);
          ws.on('error', () => undefined);
          ws.on('open', () => {
            ws.send(frame);
            for (let i = 0; i < 300; i++) ws.send('{"type":"noise"}');
          });
        }
        rounds += 1;
        await sleep(50);
      }
      await sleep(1000);
      const afterAttack = await decoded();
      assert.ok(rounds > 10, `attack ran ${rounds} rounds`);
      assert.ok(
        afterAttack > before + 30,
        `frames decoded went from ${before} to ${afterAttack} during the attack`,
      );
      const counters = env.server.server.signaling.counters;
      assert.ok(counters.badMessages > 0 && counters.floods > 0, JSON.stringify(counters));
    } finally {
      for (const ws of sockets) ws.terminate();
      await publisher.close();
      await viewer.close();
    }
  });

  test('50 connections in a row leave no handle, socket or timer behind', async () => {
    const channelId = await newChannel();
    const page = await client();
    try {
      // One warm-up cycle so that lazily created, process-wide resources exist before counting.
      const warm = await page.connect({ signalingUrl: signalingUrl(), channelId, role: 'sendonly' });
      assert.ok('connectionId' in warm, JSON.stringify(warm));
      await page.disconnect();
      await sleep(500);
      const baseline = activeResources();
      for (let i = 0; i < 50; i++) {
        const result = await page.connect({ signalingUrl: signalingUrl(), channelId, role: 'sendonly' });
        assert.ok('connectionId' in result, `cycle ${i}: ${JSON.stringify(result)}`);
        await page.disconnect();
      }
      // Closing is asynchronous on the server (ICE, DTLS, sockets): give it a moment to settle.
      let now = activeResources();
      for (let wait = 0; wait < 50 && [...now].some(([k, v]) => v > (baseline.get(k) ?? 0)); wait++) {
        await sleep(200);
        now = activeResources();
      }
      const grown = [...now].filter(([kind, count]) => count > (baseline.get(kind) ?? 0));
      assert.deepEqual(grown, [], `baseline ${JSON.stringify([...baseline])}`);
      assert.equal(env.server.server.sfu.connectionCount(), 0);
      assert.equal(env.server.server.signaling.activeSessions, 0);
    } finally {
      await page.close();
    }
  });
});
