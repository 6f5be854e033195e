/**
 * The unmodified sora-js-sdk in Chromium against Nagare's signaling and SFU: publish, receive, converse.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { e2eSkipReason } from './harness/chromium.ts';
import { useE2eEnvironment } from './harness/e2e-environment.ts';
import { callApi } from '../helpers/server.ts';

const skip = e2eSkipReason();

describe('SFU forwarding with sora-js-sdk in Chromium', { skip, timeout: 180_000 }, () => {
  const env = useE2eEnvironment();
  const signalingUrl = () => env.signalingUrl();
  const newChannel = () => env.newChannel();
  const client = () => env.client();

  for (const codec of ['H264', 'VP8', 'VP9'] as const) {
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

  test('three sendrecv connections each receive the other two, keyed by connection_id; a leave is seen by the rest', async () => {
    const channelId = await newChannel();
    const peers = [await client(), await client(), await client()];
    const ids: string[] = [];
    const colors = ['#ff0000', '#00ff00', '#0000ff'];
    for (const [index, peer] of peers.entries()) {
      const result = await peer.connect({
        signalingUrl: signalingUrl(),
        channelId,
        role: 'sendrecv',
        source: { color: colors[index] ?? '#ffffff', toneHz: 440 + 110 * index },
      });
      assert.ok('connectionId' in result, JSON.stringify(result));
      ids.push(result.connectionId);
    }
    for (const [index, peer] of peers.entries()) {
      const others = ids.filter((_, other) => other !== index).sort();
      const snapshot = await peer.waitFor(
        (s) =>
          [...s.remoteStreamIds].sort().join() === others.join() &&
          s.inbound.filter((r) => r.kind === 'video' && (r.framesDecoded ?? 0) > 5).length === 2,
        20_000,
        `peer ${index} receives and decodes the other two`,
      );
      assert.equal(snapshot.inbound.filter((r) => r.kind === 'audio' && r.packetsReceived > 0).length, 2);
      const created = snapshot.log.filter(
        (e) => e.event === 'notify' && e.message.event_type === 'connection.created',
      );
      assert.ok(created.length >= 1, 'connection.created notified');
    }
    // Its own connection.created carries `data` listing everyone then in the channel.
    const lastLog = await peers[2]!.log();
    const ownCreated = lastLog.find(
      (e) =>
        e.event === 'notify' &&
        e.message.event_type === 'connection.created' &&
        e.message['connection_id'] === ids[2],
    );
    assert.ok(ownCreated !== undefined && ownCreated.event === 'notify');
    assert.equal((ownCreated.message['data'] as unknown[]).length, 3);

    await peers[1]!.disconnect();
    for (const index of [0, 2]) {
      const snapshot = await peers[index]!.waitFor(
        (s) =>
          s.log.some((e) => e.event === 'removetrack' && e.streamId === ids[1]) &&
          s.log.some(
            (e) =>
              e.event === 'notify' &&
              e.message.event_type === 'connection.destroyed' &&
              e.message['connection_id'] === ids[1],
          ),
        10_000,
        `peer ${index} sees peer 1 leave`,
      );
      assert.ok(!snapshot.remoteStreamIds.includes(ids[1]!));
    }
    // Re-offers (a join, then a leave) did not disturb the streams that stayed: still decoding, nothing lost.
    for (const index of [0, 2]) {
      const before = await peers[index]!.inboundStats();
      const decodedBefore =
        before.find((r) => r.kind === 'video' && r.packetsReceived > 0)?.framesDecoded ?? 0;
      const snapshot = await peers[index]!.waitFor(
        (s) => s.inbound.some((r) => r.kind === 'video' && (r.framesDecoded ?? 0) > decodedBefore + 20),
        10_000,
        `peer ${index} keeps decoding after the re-offers`,
      );
      for (const stream of snapshot.inbound.filter((r) => r.packetsReceived > 0)) {
        assert.ok(
          stream.packetsLost <= 2,
          `${stream.kind} lost ${stream.packetsLost} packets across re-offers`,
        );
      }
    }
    await peers[0]!.disconnect();
    await peers[2]!.disconnect();
  });

  test('an unknown channel and a deleted channel are refused with ConnectError code 4404', async () => {
    const page = await client();
    const unknown = await page.connect({
      signalingUrl: signalingUrl(),
      channelId: 'no-such-channel',
      role: 'recvonly',
    });
    assert.ok('error' in unknown);
    assert.equal(unknown.error.code, 4404);
    assert.match(unknown.error.reason ?? '', /does not exist/);

    const channelId = await newChannel();
    await callApi(env.server.url, 'ImageFlux_20180501.DeleteChannel', { channel_id: channelId });
    const deleted = await page.connect({ signalingUrl: signalingUrl(), channelId, role: 'sendonly' });
    assert.ok('error' in deleted);
    assert.equal(deleted.error.code, 4404);
    assert.match(deleted.error.reason ?? '', /was deleted/);
  });

  test('AV1 is refused with a clear reason', async () => {
    const channelId = await newChannel();
    const page = await client();
    const result = await page.connect({
      signalingUrl: signalingUrl(),
      channelId,
      role: 'sendonly',
      options: { videoCodecType: 'AV1' },
    });
    assert.ok('error' in result);
    assert.equal(result.error.code, 4415);
    assert.match(result.error.reason ?? '', /AV1 is not supported/);
  });

  test('DisconnectConnection ends a client with a normal SHUTDOWN; ListChannelConnections and PushChannel work', async () => {
    const channelId = await newChannel();
    const publisher = await client();
    const viewer = await client();
    const a = await publisher.connect({ signalingUrl: signalingUrl(), channelId, role: 'sendonly' });
    const b = await viewer.connect({ signalingUrl: signalingUrl(), channelId, role: 'recvonly' });
    assert.ok('connectionId' in a && 'connectionId' in b);

    const listed = await callApi(env.server.url, 'Sora_20201013.ListChannelConnections', {
      channel_id: channelId,
    });
    assert.equal(listed.status, 200);
    const connections = listed.json as { connection_id: string; role: string; channel_id: string }[];
    assert.deepEqual(
      connections.map((c) => [c.connection_id, c.role]).sort(),
      [
        [a.connectionId, 'sendonly'],
        [b.connectionId, 'recvonly'],
      ].sort(),
    );

    const pushed = await callApi(env.server.url, 'Sora_20160711.PushChannel', {
      channel_id: channelId,
      data: { n: 1 },
    });
    assert.equal(pushed.status, 200);
    await viewer.waitFor(
      (s) => s.log.some((e) => e.event === 'push' && JSON.stringify(e.message.data) === '{"n":1}'),
      5000,
      'push delivered',
    );

    const cut = await callApi(env.server.url, 'Sora_20151104.DisconnectConnection', {
      channel_id: channelId,
      connection_id: b.connectionId,
    });
    assert.equal(cut.status, 200);
    const snapshot = await viewer.waitFor(
      (s) => s.log.some((e) => e.event === 'disconnect'),
      5000,
      'disconnect',
    );
    const event = snapshot.log.find((e) => e.event === 'disconnect');
    assert.ok(event?.event === 'disconnect');
    assert.equal(event.type, 'normal');
    assert.equal(event.title, 'SHUTDOWN');
    assert.equal(event.code, 1000);

    const missing = await callApi(env.server.url, 'Sora_20151104.DisconnectConnection', {
      channel_id: channelId,
      connection_id: b.connectionId,
    });
    assert.equal(missing.status, 404);

    await callApi(env.server.url, 'ImageFlux_20180501.DeleteChannel', { channel_id: channelId });
    const ended = await publisher.waitFor(
      (s) => s.log.some((e) => e.event === 'disconnect'),
      5000,
      'deleted',
    );
    const endEvent = ended.log.find((e) => e.event === 'disconnect');
    assert.ok(endEvent?.event === 'disconnect');
    assert.equal(endEvent.code, 1000);
    assert.equal(endEvent.reason, 'CHANNEL-DELETED');
  });

  test('a client asking for DataChannel signaling is kept on the WebSocket and works as usual', async () => {
    const channelId = await newChannel();
    const publisher = await client();
    const viewer = await client();
    const published = await publisher.connect({
      signalingUrl: signalingUrl(),
      channelId,
      role: 'sendonly',
      options: { dataChannelSignaling: true, ignoreDisconnectWebSocket: true },
    });
    assert.ok('connectionId' in published, JSON.stringify(published));
    const received = await viewer.connect({
      signalingUrl: signalingUrl(),
      channelId,
      role: 'recvonly',
      options: { dataChannelSignaling: true },
    });
    assert.ok('connectionId' in received, JSON.stringify(received));
    await viewer.waitFor(
      (s) => s.inbound.some((r) => r.kind === 'video' && (r.framesDecoded ?? 0) > 10),
      20_000,
      'receiver decodes video',
    );
    // Still on the WebSocket: a push (sent only there, as no DataChannel exists) arrives.
    await callApi(env.server.url, 'Sora_20160711.PushChannel', {
      channel_id: channelId,
      data: { x: 1 },
    });
    const snapshot = await viewer.waitFor((s) => s.log.some((e) => e.event === 'push'), 5000, 'push');
    const push = snapshot.log.find((e) => e.event === 'push');
    assert.ok(push?.event === 'push');
    assert.equal(push.transport, 'websocket');
    await publisher.disconnect();
    await viewer.disconnect();
  });
});
