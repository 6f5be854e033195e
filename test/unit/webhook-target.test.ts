/** Where webhooks may go: private, loopback and link-local addresses are refused unless the operator allows them. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { EventWebhook } from '../../src/channel/event-webhook.ts';
import { fetch as undiciFetch } from 'undici';
import { isPrivateAddress, refuseWebhookTarget, webhookDispatcher } from '../../src/lib/webhook-target.ts';

test('loopback, private, link-local, shared, multicast and unspecified addresses are private; public ones are not', () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ]) {
    assert.equal(isPrivateAddress(address), true, address);
  }
  for (const address of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
    assert.equal(isPrivateAddress(address), false, address);
  }
  assert.equal(isPrivateAddress('not-an-address'), true, 'anything unreadable is refused');
});

test('a webhook URL naming or resolving to a private address is refused unless allowed', async () => {
  assert.match(
    (await refuseWebhookTarget('http://127.0.0.1:9/hook', false)) ?? '',
    /127\.0\.0\.1 is private/,
  );
  assert.match((await refuseWebhookTarget('http://[::1]:9/hook', false)) ?? '', /::1 is private/);
  assert.match((await refuseWebhookTarget('http://localhost:9/hook', false)) ?? '', /is private/);
  assert.match((await refuseWebhookTarget('http://169.254.169.254/latest', false)) ?? '', /is private/);
  assert.equal(await refuseWebhookTarget('http://127.0.0.1:9/hook', true), undefined);
  assert.equal(
    await refuseWebhookTarget('https://93.184.215.14/hook', false),
    undefined,
    'a public address literal',
  );
});

test('the event webhook does not call a private receiver unless allowed, and counts it as failed', async () => {
  let calls = 0;
  const receiver = createServer((_req, res) => {
    calls += 1;
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
  try {
    const denied = new EventWebhook(pino({ level: 'silent' }));
    assert.equal(await denied.post(url, { type: 'notify.playlist_url' }), false);
    assert.deepEqual(denied.stats(), { sent: 0, failed: 1 });
    assert.equal(calls, 0, 'no request went out');
    const allowed = new EventWebhook(pino({ level: 'silent' }), 5000, true);
    assert.equal(await allowed.post(url, { type: 'notify.playlist_url' }), true);
    assert.equal(calls, 1);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('the webhook dispatcher checks the address it connects to: a name resolving to loopback is refused there', async (t) => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  // The check before the call is skipped here, as when a name answered a public address to it and a private one
  // to the connection (DNS rebinding).
  const refused = await undiciFetch(`http://localhost:${port}/`, {
    dispatcher: webhookDispatcher(false),
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof Error, 'the call must fail');
  assert.match(String((refused.cause as Error | undefined)?.message), /webhook address .* is private/);
  const allowed = await undiciFetch(`http://localhost:${port}/`, { dispatcher: webhookDispatcher(true) });
  assert.equal(await allowed.text(), 'ok');
});
