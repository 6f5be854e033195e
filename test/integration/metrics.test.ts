/** GET /metrics: Prometheus text for a holder of an API token, read from the server's live counters. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createChannel,
  metricSamples,
  startTestServer,
  testToken,
  type TestServer,
} from '../helpers/server.ts';

describe('/metrics', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const scrape = (headers: Record<string, string> = { Authorization: `Bearer ${testToken}` }) =>
    fetch(`${server.url}/metrics`, { headers });

  test('asks for an API token: 401 without one or with a wrong one', async () => {
    assert.equal((await scrape({})).status, 401);
    assert.equal((await scrape({ Authorization: 'Bearer not-a-token-at-all-really' })).status, 401);
    assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
  });

  test('Prometheus text with the channel, connection, RTP, ffmpeg, HLS and process metrics', async () => {
    await createChannel(server.url);
    await createChannel(server.url);
    const answer = await scrape();
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const values = metricSamples(await answer.text());
    assert.equal(values.get('nagare_channels{state="idle"}'), 2);
    assert.equal(values.get('nagare_channels{state="live"}'), 0);
    assert.equal(values.get('nagare_connections{role="sendonly"}'), 0);
    assert.equal(values.get('nagare_rtp_packets_total{kind="video"}'), 0);
    assert.equal(values.get('nagare_ffmpeg_restarts_total{process="encoder"}'), 0);
    assert.equal(values.get('nagare_pictures_released_unheld_total'), 0);
    assert.equal(values.get('nagare_hls_requests_total{resource="media"}'), 0);
    assert.ok((values.get('nagare_process_resident_memory_bytes') ?? 0) > 10_000_000);
    assert.ok((values.get('nagare_process_open_fds') ?? 0) > 0);
  });
});
