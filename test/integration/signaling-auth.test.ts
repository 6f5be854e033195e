/**
 * The auth webhook of a channel (shared/SORA-PROTOCOL.md §8) as seen from the signaling WebSocket: the server
 * POSTs a Sora-shaped body to the channel's auth_webhook_url and lets the client in only on an HTTP 200 with
 * `allowed: true`; everything else closes with 4401 and a reason.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { closeCodes } from '../../src/signaling/close-codes.ts';
import { createChannel, startTestServer, validVariant, type TestServer } from '../helpers/server.ts';
import {
  Connection,
  connectMessage,
  connectOnce,
  expectOffer,
  type Json,
} from '../helpers/signaling-client.ts';

interface WebhookRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Json;
}

type Reply = (res: ServerResponse) => void;
const answerJson =
  (body: unknown, status = 200): Reply =>
  (res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

describe('signaling with a channel auth webhook', () => {
  let server: TestServer | undefined;
  let webhook: Server | undefined;
  let webhookUrl = '';
  const requests: WebhookRequest[] = [];
  /** Answers that were never sent (the "never answers" webhook), ended in `after`. */
  const held: ServerResponse[] = [];
  let reply: Reply = answerJson({ allowed: true });

  before(async () => {
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json,
        });
        reply(res);
      });
    });
    webhook.listen(0, '127.0.0.1');
    await once(webhook, 'listening');
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/auth`;
    server = await startTestServer();
  });

  beforeEach(() => {
    requests.length = 0;
    reply = answerJson({ allowed: true });
  });

  after(async () => {
    await server?.close();
    for (const res of held) res.destroy();
    if (webhook !== undefined) {
      webhook.closeAllConnections();
      await new Promise((resolve) => webhook?.close(resolve));
    }
  });

  const started = (): TestServer => {
    assert.ok(server !== undefined, 'server did not start');
    return server;
  };
  const guardedChannel = (on: TestServer = started()): Promise<string> =>
    createChannel(on.url, { hls: [validVariant()], auth_webhook_url: webhookUrl });

  test('allowed with metadata: the offer carries that metadata, and the webhook got the Sora fields', async () => {
    const channelId = await guardedChannel();
    reply = answerJson({ allowed: true, metadata: { role: 'host' } });
    const sentMetadata = { access_token: 't0k3n', seats: [1, 2] };
    const connect = connectMessage(channelId, {
      role: 'sendrecv',
      video: { codec_type: 'VP8' },
      metadata: sentMetadata,
    });
    // The first connection stays open, so the second one's webhook call counts it.
    const first = new Connection(started().server.port, connect);
    try {
      const offer = expectOffer(await first.outcome);
      assert.deepEqual(offer['metadata'], { role: 'host' });
      assert.equal(requests.length, 1);
      const [request] = requests;
      assert.ok(request !== undefined);
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/auth');
      assert.match(request.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(request.headers['sora-connection-id'], offer['connection_id']);
      const body = request.body;
      assert.equal(body['channel_id'], channelId);
      assert.equal(body['connection_id'], offer['connection_id']);
      assert.equal(body['client_id'], offer['client_id']);
      assert.equal(body['bundle_id'], offer['bundle_id']);
      assert.equal(body['role'], 'sendrecv');
      assert.deepEqual(body['metadata'], sentMetadata);
      assert.equal(body['multistream'], true);
      assert.equal(body['simulcast'], false);
      assert.equal(body['spotlight'], false);
      assert.equal(body['audio'], true);
      assert.equal(body['audio_codec_type'], 'OPUS');
      assert.equal(body['video'], true);
      assert.equal(body['video_codec_type'], 'VP8');
      assert.equal(body['sora_client'], 'test');
      assert.equal(body['e2ee'], false);
      assert.equal(body['data_channel_signaling'], false);
      for (const key of ['version', 'label', 'node_name']) assert.equal(typeof body[key], 'string', key);
      assert.ok(!Number.isNaN(Date.parse(body['timestamp'] as string)), 'timestamp is a date');
      assert.equal(body['channel_connections'], 0);
      assert.equal(body['channel_sendrecv_connections'], 0);

      // sendonly, not recvonly: a recvonly with nothing to receive waits out the SFU's 3 s ICE gather timeout.
      const second = expectOffer(await connectOnce(started(), connectMessage(channelId)));
      assert.equal(requests.length, 2);
      const counted = requests[1]?.body;
      assert.ok(counted !== undefined);
      assert.equal(counted['connection_id'], second['connection_id']);
      assert.notEqual(second['connection_id'], offer['connection_id']);
      assert.equal(counted['role'], 'sendonly');
      assert.equal(counted['metadata'], null, 'a null connect metadata is sent as null');
      assert.equal(counted['channel_connections'], 1);
      assert.equal(counted['channel_sendrecv_connections'], 1);
      assert.equal(counted['channel_sendonly_connections'], 0);
      assert.equal(counted['channel_recvonly_connections'], 0);
    } finally {
      await first.end();
    }
  });

  test('allowed with client_id "cli-1": the offer has client_id cli-1, bundle_id stays the connection_id', async () => {
    const channelId = await guardedChannel();
    reply = answerJson({ allowed: true, client_id: 'cli-1' });
    const offer = expectOffer(await connectOnce(started(), connectMessage(channelId)));
    assert.equal(offer['client_id'], 'cli-1');
    assert.equal(offer['bundle_id'], offer['connection_id']);
    assert.equal('metadata' in offer, false, 'no metadata when the webhook gave none');
  });

  const refusals: { name: string; reply: Reply; reason: RegExp }[] = [
    {
      name: '{"allowed":false,"reason":"go away"}',
      reply: answerJson({ allowed: false, reason: 'go away' }),
      reason: /^go away$/,
    },
    {
      name: '{"allowed":false} without a reason',
      reply: answerJson({ allowed: false }),
      reason: /^not allowed$/,
    },
    {
      name: '{"allowed":"yes"} (not the boolean true)',
      reply: answerJson({ allowed: 'yes' }),
      reason: /^not allowed$/,
    },
    {
      name: 'HTTP 500, even with an allowing body',
      reply: answerJson({ allowed: true }, 500),
      reason: /HTTP 500/,
    },
    {
      name: 'a body that is not JSON',
      reply: (res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('yes please');
      },
      reason: /not JSON/,
    },
  ];

  for (const refusal of refusals) {
    test(`a webhook answering ${refusal.name} closes with 4401 and a reason matching ${String(refusal.reason)}`, async () => {
      const channelId = await guardedChannel();
      reply = refusal.reply;
      const outcome = await connectOnce(started(), connectMessage(channelId));
      assert.equal(outcome.kind, 'closed', JSON.stringify(outcome));
      const closed = outcome as { code: number; reason: string };
      assert.equal(closed.code, closeCodes.unauthorized);
      assert.match(closed.reason, refusal.reason);
      assert.equal(requests.length, 1, 'the webhook was asked once');
    });
  }

  test('a refused connection leaves no SFU room behind', async () => {
    const channelId = await guardedChannel();
    reply = answerJson({ allowed: false, reason: 'go away' });
    const outcome = await connectOnce(started(), connectMessage(channelId));
    assert.equal(outcome.kind, 'closed', JSON.stringify(outcome));
    assert.equal(started().server.sfu.existingRoom(channelId), undefined);
  });

  test('a webhook that never answers closes with 4401 "in time" after authWebhookTimeoutMs', async () => {
    const short = await startTestServer({}, { signaling: { authWebhookTimeoutMs: 300 } });
    try {
      const channelId = await guardedChannel(short);
      reply = (res) => held.push(res);
      const startedAt = Date.now();
      const outcome = await connectOnce(short, connectMessage(channelId));
      const elapsedMs = Date.now() - startedAt;
      assert.equal(outcome.kind, 'closed', JSON.stringify(outcome));
      const closed = outcome as { code: number; reason: string };
      assert.equal(closed.code, closeCodes.unauthorized);
      assert.match(closed.reason, /in time/);
      assert.ok(elapsedMs >= 250, `refused after ${elapsedMs} ms`);
      assert.equal(requests.length, 1);
    } finally {
      await short.close();
    }
  });

  test('a channel without auth_webhook_url lets everyone in without asking a webhook', async () => {
    const channelId = await createChannel(started().url);
    reply = answerJson({ allowed: false, reason: 'must not be asked' });
    const offer = expectOffer(
      await connectOnce(started(), connectMessage(channelId, { metadata: { access_token: 'x' } })),
    );
    assert.equal(offer['channel_id'], channelId);
    assert.equal('metadata' in offer, false);
    assert.equal(requests.length, 0);
  });
});
