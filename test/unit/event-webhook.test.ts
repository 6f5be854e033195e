/**
 * EventWebhook against real receivers: node:http servers on 127.0.0.1, port 0. Delivery is tried at 0, 1 and
 * 3 s; the tests that see every attempt fail wait those ~4 s for real, so they run concurrently.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { EventWebhook } from '../../src/channel/event-webhook.ts';

interface Received {
  method: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
}

interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map(closeServer));
});

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

/** A receiver that records every request and answers the n-th one (from 0) with `answer(res, n)`. */
async function startReceiver(answer: (res: ServerResponse, index: number) => void): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const index = requests.length;
      requests.push({ method: req.method, headers: req.headers, body, atMs: performance.now() });
      answer(res, index);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/events`, requests, close: () => closeServer(server) };
}

const status =
  (code: number) =>
  (res: ServerResponse): void => {
    res.statusCode = code;
    res.end(code >= 400 ? 'no' : '');
  };

const silent = pino({ level: 'silent' });

const event = {
  type: 'notify.playlist_url',
  channel_id: 'c'.repeat(48),
  connection_id: 'CONN1234',
  timestamp: '2026-01-02T03:04:05.000Z',
  playlist_url: 'http://127.0.0.1:1/hls/abc/def.m3u8',
};

describe('EventWebhook', { concurrency: true }, () => {
  test('a 200 receiver gets exactly one JSON POST with the event; post resolves true and counts it sent', async () => {
    const receiver = await startReceiver(status(200));
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(receiver.url, event), true);
    assert.equal(receiver.requests.length, 1);
    const [request] = receiver.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), event);
    assert.deepEqual(webhook.stats(), { sent: 1, failed: 0 });
  });

  test('any 2xx is success: a 204 receiver is not retried', async () => {
    const receiver = await startReceiver(status(204));
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(receiver.url, event), true);
    assert.equal(receiver.requests.length, 1);
    assert.deepEqual(webhook.stats(), { sent: 1, failed: 0 });
  });

  test('a receiver that answers 500 once then 200 gets 2 POSTs about 1 s apart; post resolves true', async () => {
    const receiver = await startReceiver((res, index) => {
      status(index === 0 ? 500 : 200)(res);
    });
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(receiver.url, event), true);
    assert.equal(receiver.requests.length, 2);
    const [first, second] = receiver.requests;
    assert.ok(first !== undefined && second !== undefined);
    assert.deepEqual(JSON.parse(second.body), event, 'the retry carries the same event');
    const gapMs = second.atMs - first.atMs;
    assert.ok(gapMs >= 950 && gapMs < 2500, `retry after ${gapMs.toFixed(0)} ms, expected about 1000`);
    assert.deepEqual(webhook.stats(), { sent: 1, failed: 0 });
  });

  test('a receiver that always answers 500 gets 3 POSTs; post resolves false and counts one failure', async () => {
    const receiver = await startReceiver(status(500));
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(receiver.url, event), false);
    assert.equal(receiver.requests.length, 3);
    const [first, second, third] = receiver.requests.map((request) => request.atMs);
    assert.ok(first !== undefined && second !== undefined && third !== undefined);
    assert.ok(second - first >= 950, `second attempt after ${(second - first).toFixed(0)} ms`);
    assert.ok(third - second >= 2950, `third attempt ${(third - second).toFixed(0)} ms after the second`);
    assert.deepEqual(webhook.stats(), { sent: 0, failed: 1 });
  });

  test('an unreachable URL (a closed port) resolves false without throwing and counts one failure', async () => {
    const receiver = await startReceiver(status(200));
    await receiver.close();
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(receiver.url, event), false);
    assert.equal(receiver.requests.length, 0);
    assert.deepEqual(webhook.stats(), { sent: 0, failed: 1 });
  });

  test('a redirect is not followed: the target gets nothing, post resolves false, and one warning is logged', async () => {
    const target = await startReceiver(status(200));
    const redirecting = await startReceiver((res) => {
      res.writeHead(307, { Location: target.url });
      res.end();
    });
    // This one logs to memory: a failure is logged once, after the last attempt, with the URL and event type.
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const webhook = new EventWebhook(log, 5000, true);
    assert.equal(await webhook.post(redirecting.url, event), false);
    assert.equal(target.requests.length, 0);
    assert.equal(redirecting.requests.length, 3);
    assert.deepEqual(webhook.stats(), { sent: 0, failed: 1 });
    assert.equal(lines.length, 1, lines.join(''));
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(entry['msg'], 'event webhook not delivered');
    assert.equal(entry['url'], redirecting.url);
    assert.equal(entry['type'], 'notify.playlist_url');
    assert.equal(typeof entry['error'], 'string');
  });

  test('a receiver that never answers is given up on after the timeout of each of the 3 attempts', async () => {
    const receiver = await startReceiver(() => {
      // Never answers; closeAllConnections() ends it when the file's tests are done.
    });
    const webhook = new EventWebhook(silent, 200, true);
    const startMs = performance.now();
    assert.equal(await webhook.post(receiver.url, event), false);
    const tookMs = performance.now() - startMs;
    assert.equal(receiver.requests.length, 3);
    assert.ok(tookMs >= 4500 && tookMs < 8000, `took ${tookMs.toFixed(0)} ms: 3 × 200 ms + 1 s + 3 s`);
    assert.deepEqual(webhook.stats(), { sent: 0, failed: 1 });
  });

  test('stats accumulate over several posts of one EventWebhook', async () => {
    const good = await startReceiver(status(200));
    const webhook = new EventWebhook(silent, 5000, true);
    assert.equal(await webhook.post(good.url, event), true);
    assert.equal(await webhook.post(good.url, { ...event, connection_id: 'CONN5678' }), true);
    assert.equal(good.requests.length, 2);
    assert.equal(
      (JSON.parse(good.requests[1]?.body ?? '{}') as { connection_id: string }).connection_id,
      'CONN5678',
    );
    const stats = webhook.stats();
    assert.deepEqual(stats, { sent: 2, failed: 0 });
    stats.sent = 99;
    assert.deepEqual(webhook.stats(), { sent: 2, failed: 0 }, 'stats() answers a copy');
  });
});
