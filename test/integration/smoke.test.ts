import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callApi, startTestServer, validVariant } from '../helpers/server.ts';

test('CreateChannel then ListChannelIDs lists the new channel', async () => {
  const t = await startTestServer();
  try {
    const created = await callApi(t.url, 'ImageFlux_20180905.CreateChannel', { hls: [validVariant()] });
    assert.equal(created.status, 200);
    const { channel_id } = created.json as { channel_id: string };
    const listed = await callApi(t.url, 'ImageFlux_20200729.ListChannelIDs', {});
    assert.deepEqual(listed.json, { channel_ids: [channel_id] });
  } finally {
    await t.close();
  }
});
