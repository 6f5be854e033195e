/**
 * Network settings reach the offer: the UDP port range bounds the server's candidates, the announced host
 * addresses appear as candidates, and the configured STUN/TURN servers are handed to the client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { callApi, startTestServer, validVariant } from '../helpers/server.ts';

async function firstOffer(url: string, channelId: string): Promise<Record<string, unknown>> {
  const ws = new WebSocket(url);
  try {
    return await new Promise((resolve, reject) => {
      ws.on('error', reject);
      ws.on('close', (code, reason) => {
        reject(new Error(`closed ${code} ${reason.toString()}`));
      });
      ws.on('open', () => {
        ws.send(
          JSON.stringify({
            type: 'connect',
            role: 'sendonly',
            channel_id: channelId,
            audio: true,
            video: true,
          }),
        );
      });
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        if (message['type'] === 'offer') resolve(message);
      });
    });
  } finally {
    ws.terminate();
  }
}

test('udp port range, announced addresses and ICE servers shape the offer', async () => {
  const iceServers = [{ urls: 'turn:turn.example.com:3478', username: 'u', credential: 'p' }];
  const t = await startTestServer({
    udpPortRange: [41000, 41099],
    iceHostAddresses: ['127.0.0.1'],
    iceServers,
  });
  try {
    const created = await callApi(t.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
    const channelId = (created.json as { channel_id: string }).channel_id;
    const offer = await firstOffer(`ws://127.0.0.1:${t.server.port}/signaling`, channelId);
    assert.deepEqual(offer['config'], { iceServers });
    const candidates = String(offer['sdp'])
      .split(/\r?\n/)
      .filter((line) => line.startsWith('a=candidate:'))
      .map((line) => line.split(' '));
    const udp = candidates.filter((fields) => fields[2]?.toLowerCase() === 'udp');
    assert.ok(udp.length > 0, 'the offer carries UDP candidates');
    for (const fields of udp) {
      const port = Number(fields[5]);
      assert.ok(port >= 41000 && port <= 41099, `candidate port ${port} is inside 41000-41099`);
    }
    assert.ok(
      udp.some((fields) => fields[4] === '127.0.0.1'),
      'the announced loopback address is a candidate',
    );
  } finally {
    await t.close();
  }
});
