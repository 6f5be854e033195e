/**
 * Limits and admission over real HTTP and WebSocket: channels held, API requests per token, connections and
 * publishers per channel, and the encoding budget. Past a limit the API answers 429 or 503 with an error code,
 * signaling closes with 4503 and a reason, and nothing else is harmed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { closeCodes } from '../../src/signaling/close-codes.ts';
import {
  callApi,
  createChannel,
  otherToken,
  startTestServer,
  validVariant,
  type TestServer,
} from '../helpers/server.ts';
import {
  Connection,
  connectMessage,
  connectOnce,
  expectOffer,
  type Outcome,
} from '../helpers/signaling-client.ts';

async function withServer(
  overrides: Parameters<typeof startTestServer>[0],
  work: (server: TestServer) => Promise<void>,
) {
  const server = await startTestServer(overrides);
  try {
    await work(server);
  } finally {
    await server.close();
  }
}

function expectClosed(outcome: Outcome, code: number, reason: RegExp): void {
  assert.equal(outcome.kind, 'closed', JSON.stringify(outcome));
  const closed = outcome as { code: number; reason: string };
  assert.equal(closed.code, code);
  assert.match(closed.reason, reason);
}

describe('channels held', () => {
  test('past --max-channels CreateChannel answers 503 Unavailable; a deletion makes room again', async () => {
    await withServer({ maxChannels: 2 }, async (server) => {
      const first = await createChannel(server.url);
      await createChannel(server.url, { hls: [validVariant()] }, otherToken);
      for (const [action, body] of [
        ['ImageFlux_20180905.CreateChannel', { hls: [validVariant()] }],
        ['ImageFlux_20200316.CreateMultistreamChannel', {}],
        ['ImageFlux_20200316.CreateMultistreamChannelWithHLS', { hls: [validVariant()] }],
      ] as const) {
        const refused = await callApi(server.url, action, body);
        assert.equal(refused.status, 503, action);
        const { error } = refused.json as { error: { code: string; message: string } };
        assert.equal(error.code, 'Unavailable');
        assert.match(error.message, /maximum of 2 channels/);
      }
      // A bad body is still a 400: the limit is checked after the request is read.
      assert.equal((await callApi(server.url, 'ImageFlux_20180905.CreateChannel', { hls: 1 })).status, 400);
      await callApi(server.url, 'ImageFlux_20180501.DeleteChannel', { channel_id: first });
      assert.equal(
        (await callApi(server.url, 'ImageFlux_20200316.CreateMultistreamChannel', {})).status,
        200,
      );
    });
  });
});

describe('API requests per token', () => {
  test('past the burst a token gets 429 TooManyRequests; another token is not slowed; the rate refills', async () => {
    await withServer({ apiRequestsPerSecond: 2 }, async (server) => {
      const list = 'ImageFlux_20200729.ListChannelIDs';
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await callApi(server.url, list, {})).status);
      // Burst of 4 (twice the rate), then refused; a few ms pass meanwhile, not the 500 ms a token takes.
      assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
      const refused = await callApi(server.url, list, {});
      assert.equal((refused.json as { error: { code: string } }).error.code, 'TooManyRequests');
      assert.equal(
        (await callApi(server.url, list, {}, otherToken)).status,
        200,
        'the other token has its own',
      );
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal((await callApi(server.url, list, {})).status, 200, 'one more after half a second');
    });
  });
});

describe('signaling admission', () => {
  test('past --max-connections-per-channel a connection is closed with 4503 CHANNEL-FULL', async () => {
    await withServer({ maxConnectionsPerChannel: 2 }, async (server) => {
      const channelId = await createChannel(server.url);
      const port = server.server.port;
      const first = new Connection(port, connectMessage(channelId, { role: 'recvonly' }));
      const second = new Connection(port, connectMessage(channelId, { role: 'recvonly' }));
      try {
        expectOffer(await first.outcome);
        expectOffer(await second.outcome);
        const third = await connectOnce(server, connectMessage(channelId, { role: 'recvonly' }));
        expectClosed(third, closeCodes.unavailable, /^CHANNEL-FULL/);
        // Another channel is not full.
        const elsewhere = await createChannel(server.url);
        expectOffer(await connectOnce(server, connectMessage(elsewhere, { role: 'recvonly' })));
      } finally {
        await first.end();
        await second.end();
      }
      // Once one leaves there is room again.
      await waitForCount(server, channelId, 0);
      expectOffer(await connectOnce(server, connectMessage(channelId, { role: 'recvonly' })));
    });
  });

  test('past --max-publishers-per-channel a publisher is closed with 4503; a viewer still gets in', async () => {
    await withServer({ maxPublishersPerChannel: 1 }, async (server) => {
      const channelId = await createChannel(server.url);
      const port = server.server.port;
      const publisher = new Connection(port, connectMessage(channelId, { role: 'sendonly' }));
      try {
        expectOffer(await publisher.outcome);
        for (const role of ['sendonly', 'sendrecv']) {
          const refused = await connectOnce(server, connectMessage(channelId, { role }));
          expectClosed(refused, closeCodes.unavailable, /^TOO-MANY-PUBLISHERS: at most 1 publishers/);
        }
        expectOffer(await connectOnce(server, connectMessage(channelId, { role: 'recvonly' })));
      } finally {
        await publisher.end();
      }
    });
  });

  test('a publisher whose channel would exceed the encoding budget is closed with 4503; without HLS it is not', async () => {
    // 640x480 at 30 fps is 9.2 million pixels a second; the budget is 5.
    await withServer({ transcodeBudgetMegapixels: 5 }, async (server) => {
      const channelId = await createChannel(server.url, {
        hls: [{ video: { width: 640, height: 480, fps: 30, bps: 1_000_000 }, audio: { bps: 64_000 } }],
      });
      const refused = await connectOnce(server, connectMessage(channelId, { role: 'sendonly' }));
      expectClosed(refused, closeCodes.unavailable, /^TRANSCODE-BUDGET-EXCEEDED/);
      expectOffer(await connectOnce(server, connectMessage(channelId, { role: 'recvonly' })));
      const plain = await callApi(server.url, 'ImageFlux_20200316.CreateMultistreamChannel', {});
      const plainId = (plain.json as { channel_id: string }).channel_id;
      expectOffer(await connectOnce(server, connectMessage(plainId, { role: 'sendonly' })));
      // A small channel fits: 320x240 at 15 fps is 1.2 million.
      const small = await createChannel(server.url, {
        hls: [{ video: { width: 320, height: 240, fps: 15, bps: 300_000 }, audio: { bps: 32_000 } }],
      });
      expectOffer(await connectOnce(server, connectMessage(small, { role: 'sendonly' })));
    });
  });
});

describe('webhook addresses', () => {
  test('with --webhook-private-addresses deny, an auth webhook on loopback is not called: 4401', async () => {
    await withServer({ webhookPrivateAddresses: 'deny' }, async (server) => {
      let calls = 0;
      const receiver = createServer((_req, res) => {
        calls += 1;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"allowed":true}');
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const port = (receiver.address() as AddressInfo).port;
        const channelId = await createChannel(server.url, {
          hls: [validVariant()],
          auth_webhook_url: `http://127.0.0.1:${port}/auth`,
        });
        const refused = await connectOnce(server, connectMessage(channelId, { role: 'sendonly' }));
        expectClosed(refused, closeCodes.unauthorized, /^auth webhook address not allowed$/);
        assert.equal(calls, 0);
      } finally {
        await new Promise((resolve) => receiver.close(resolve));
      }
    });
  });
});

describe('signaling origins', () => {
  test('with --signaling-origins a page of another origin gets 403; the listed one and non-browsers get in', async () => {
    await withServer({ signalingOrigins: ['https://live.example.com'] }, async (server) => {
      const channelId = await createChannel(server.url);
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.server.port}/signaling`, {
          origin: 'https://evil.example.net',
        });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          reject(new Error('the socket opened'));
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
      assert.equal(status, 403);
      assert.equal(server.server.signaling.counters.refusedOrigins, 1);
      for (const origin of ['https://live.example.com', undefined]) {
        const connection = new Connection(
          server.server.port,
          connectMessage(channelId, { role: 'recvonly' }),
          origin,
        );
        try {
          expectOffer(await connection.outcome);
        } finally {
          await connection.end();
        }
      }
    });
  });
});

async function waitForCount(server: TestServer, channelId: string, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const listed = await callApi(server.url, 'Sora_20201013.ListChannelConnections', {
      channel_id: channelId,
    });
    if ((listed.json as unknown[]).length === count) return;
    assert.ok(Date.now() < deadline, `channel never came down to ${count} connections`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
