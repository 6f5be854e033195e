/**
 * The multistream actions and Nagare's composite layout over real HTTP: CreateMultistreamChannel,
 * CreateMultistreamChannelWithHLS, ListPlaylistURLs, UpdateLayout, and `layout` on CreateChannel, with
 * DescribeChannel showing what each stored. Publishing is not part of this file (it needs a browser), so
 * ListPlaylistURLs is only seen empty here.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  assertApiError as assertError,
  callApi,
  createChannel,
  makeTempDir,
  otherToken,
  startTestServer,
  validVariant,
  type TestServer,
} from '../helpers/server.ts';

const create = 'ImageFlux_20180905.CreateChannel';
const createMultistream = 'ImageFlux_20200316.CreateMultistreamChannel';
const createMultistreamHls = 'ImageFlux_20200316.CreateMultistreamChannelWithHLS';
const listPlaylists = 'ImageFlux_20200207.ListPlaylistURLs';
const updateLayout = 'Nagare_20261124.UpdateLayout';
const remove = 'ImageFlux_20180501.DeleteChannel';
const describeChannel = 'Nagare_20261124.DescribeChannel';

/** The variant of validVariant() as DescribeChannel shows it, defaults filled in. */
const storedVariant = {
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
  audio: { bps: 64_000 },
  durationSeconds: 2,
};

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.close();
});

/** An action that must succeed (asserted): its JSON answer. */
async function ok(target: string, body: unknown, url = t.url): Promise<Record<string, unknown>> {
  const answer = await callApi(url, target, body);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json as Record<string, unknown>;
}

async function describeOk(channel_id: string, url = t.url): Promise<Record<string, unknown>> {
  return ok(describeChannel, { channel_id }, url);
}

async function createdId(target: string, body: unknown): Promise<string> {
  return (await ok(target, body))['channel_id'] as string;
}

const soraUrlOf = (url: string): string => `ws://127.0.0.1:${new URL(url).port}/signaling`;

describe('CreateMultistreamChannel', () => {
  test('answers exactly channel_id and sora_url, and no playlist_url', async () => {
    const json = await ok(createMultistream, {});
    assert.deepEqual(Object.keys(json).sort(), ['channel_id', 'sora_url']);
    assert.match(json['channel_id'] as string, /^[0-9a-f]{32,}$/);
    assert.equal(json['sora_url'], soraUrlOf(t.url));
  });

  test('DescribeChannel shows type multistream, hls [], webhooks and environment, no playlist_url or layout', async () => {
    const created = await ok(createMultistream, {
      auth_webhook_url: 'https://auth.example.com/hook',
      event_webhook_url: 'http://events.example.com/events',
      environment: 0,
    });
    const channel_id = created['channel_id'] as string;
    const record = await describeOk(channel_id);
    assert.deepEqual(record, {
      channel_id,
      type: 'multistream',
      state: 'idle',
      created_at: record['created_at'],
      sora_url: created['sora_url'],
      hls: [],
      environment: 0,
      auth_webhook_url: 'https://auth.example.com/hook',
      event_webhook_url: 'http://events.example.com/events',
      connections: 0,
      traffic: { ingest_bytes: 0, hls_bytes: 0, viewers: 0, live_edge_ms: null },
    });
  });

  test('without environment DescribeChannel has no environment field; a large one is kept as given', async () => {
    const plain = await describeOk(await createdId(createMultistream, {}));
    assert.ok(!('environment' in plain), JSON.stringify(plain));
    assert.ok(!('playlist_url' in plain) && !('layout' in plain), JSON.stringify(plain));
    const large = await describeOk(await createdId(createMultistream, { environment: 2 ** 31 - 1 }));
    assert.equal(large['environment'], 2 ** 31 - 1);
  });

  test('is listed by ListChannelIDs like any other channel', async () => {
    const channel_id = await createdId(createMultistream, {});
    const listed = await ok('ImageFlux_20200729.ListChannelIDs', {});
    assert.ok((listed['channel_ids'] as string[]).includes(channel_id));
  });
});

describe('CreateMultistreamChannelWithHLS', () => {
  test('without layout answers channel_id and sora_url only; DescribeChannel shows multistream_hls', async () => {
    const created = await ok(createMultistreamHls, {
      hls: [validVariant()],
      environment: 3,
      event_webhook_url: 'https://events.example.com/e',
    });
    assert.deepEqual(Object.keys(created).sort(), ['channel_id', 'sora_url']);
    const channel_id = created['channel_id'] as string;
    const record = await describeOk(channel_id);
    assert.deepEqual(record, {
      channel_id,
      type: 'multistream_hls',
      state: 'idle',
      created_at: record['created_at'],
      sora_url: soraUrlOf(t.url),
      hls: [storedVariant],
      environment: 3,
      event_webhook_url: 'https://events.example.com/e',
      connections: 0,
      traffic: { ingest_bytes: 0, hls_bytes: 0, viewers: 0, live_edge_ms: null },
    });
  });

  test('with layout also answers the composite playlist_url, which DescribeChannel shows with the layout', async () => {
    const created = await ok(createMultistreamHls, {
      hls: [validVariant()],
      layout: { type: 'featured', order: ['presenter'] },
    });
    assert.deepEqual(Object.keys(created).sort(), ['channel_id', 'playlist_url', 'sora_url']);
    const port = new URL(t.url).port;
    assert.match(
      created['playlist_url'] as string,
      new RegExp(`^http://127\\.0\\.0\\.1:${port}/hls/[^/]+/[^/]+\\.m3u8$`),
    );
    const record = await describeOk(created['channel_id'] as string);
    assert.equal(record['type'], 'multistream_hls');
    assert.equal(record['playlist_url'], created['playlist_url']);
    assert.deepEqual(record['layout'], { type: 'featured', order: ['presenter'] });
    assert.deepEqual(record['hls'], [storedVariant]);
  });

  test('a layout given as a string is stored as {type}', async () => {
    const created = await ok(createMultistreamHls, { hls: [validVariant()], layout: 'pip' });
    assert.equal(typeof created['playlist_url'], 'string');
    const record = await describeOk(created['channel_id'] as string);
    assert.deepEqual(record['layout'], { type: 'pip' });
  });

  test('the hls rules of CreateChannel apply: hls is required', async () => {
    assertError(await callApi(t.url, createMultistreamHls, {}), 400, 'InvalidParameter', 'hls is required');
    assertError(
      await callApi(t.url, createMultistreamHls, {
        hls: [{ ...validVariant(), video: { width: 641, height: 480, fps: 30, bps: 1_000_000 } }],
      }),
      400,
      'InvalidParameter',
      'hls[0].video.width must be an even integer from 36 to 4096',
    );
  });
});

describe('CreateChannel with layout', () => {
  test('without layout DescribeChannel shows type composite and the default grid layout', async () => {
    const record = await describeOk(await createChannel(t.url));
    assert.equal(record['type'], 'composite');
    assert.deepEqual(record['layout'], { type: 'grid' });
  });

  for (const type of ['grid', 'featured', 'pip']) {
    test(`layout "${type}" is stored as {type: "${type}"}`, async () => {
      const record = await describeOk(await createChannel(t.url, { hls: [validVariant()], layout: type }));
      assert.equal(record['type'], 'composite');
      assert.deepEqual(record['layout'], { type });
    });
  }

  test('layout {type, order} with 16 distinct ids of up to 255 characters is stored as given', async () => {
    const order = Array.from({ length: 16 }, (_, i) => (i === 0 ? 'x'.repeat(255) : `client-${i}`));
    const record = await describeOk(
      await createChannel(t.url, { hls: [validVariant()], layout: { type: 'grid', order } }),
    );
    assert.deepEqual(record['layout'], { type: 'grid', order });
  });

  test('an empty order is accepted and kept', async () => {
    const record = await describeOk(
      await createChannel(t.url, { hls: [validVariant()], layout: { type: 'pip', order: [] } }),
    );
    assert.deepEqual(record['layout'], { type: 'pip', order: [] });
  });
});

describe('ListPlaylistURLs', () => {
  for (const [kind, target, body] of [
    ['CreateMultistreamChannelWithHLS', createMultistreamHls, { hls: [validVariant()] }],
    ['CreateMultistreamChannel', createMultistream, {}],
    ['CreateChannel', create, { hls: [validVariant()] }],
  ] as const) {
    test(`of a ${kind} channel nobody publishes to answers {channel_id, hls: []}`, async () => {
      const channel_id = await createdId(target, body);
      assert.deepEqual(await ok(listPlaylists, { channel_id }), { channel_id, hls: [] });
    });
  }

  test('of an unknown channel answers 404', async () => {
    const channel_id = 'f'.repeat(48);
    assertError(
      await callApi(t.url, listPlaylists, { channel_id }),
      404,
      'NotFound',
      `channel ${channel_id} does not exist`,
    );
  });

  test('of another token’s channel answers the same 404 as an unknown one', async () => {
    const channel_id = await createdId(createMultistreamHls, { hls: [validVariant()] });
    assertError(
      await callApi(t.url, listPlaylists, { channel_id }, otherToken),
      404,
      'NotFound',
      `channel ${channel_id} does not exist`,
    );
  });
});

describe('UpdateLayout', () => {
  test('answers {channel_id, layout} normalised, and DescribeChannel shows the new layout', async () => {
    const channel_id = await createChannel(t.url);
    assert.deepEqual(await ok(updateLayout, { channel_id, layout: 'featured' }), {
      channel_id,
      layout: { type: 'featured' },
    });
    assert.deepEqual((await describeOk(channel_id))['layout'], { type: 'featured' });

    const layout = { type: 'pip', order: ['b', 'a'] };
    assert.deepEqual(await ok(updateLayout, { channel_id, layout }), { channel_id, layout });
    const record = await describeOk(channel_id);
    assert.deepEqual(record['layout'], layout);
    assert.equal(record['type'], 'composite', 'the kind of channel does not change');
    assert.deepEqual(record['hls'], [storedVariant], 'the variants are untouched');
  });

  test('works on a CreateMultistreamChannelWithHLS channel that was created with a layout', async () => {
    const channel_id = await createdId(createMultistreamHls, { hls: [validVariant()], layout: 'grid' });
    await ok(updateLayout, { channel_id, layout: { type: 'featured', order: ['speaker'] } });
    const record = await describeOk(channel_id);
    assert.deepEqual(record['layout'], { type: 'featured', order: ['speaker'] });
    assert.equal(record['type'], 'multistream_hls');
  });

  test('survives a server restart on the same data directory', async () => {
    const dataDir = await makeTempDir('nagare-layout-');
    try {
      const first = await startTestServer({ dataDir });
      let channel_id: string;
      try {
        channel_id = await createChannel(first.url);
        await ok(updateLayout, { channel_id, layout: { type: 'pip', order: ['main', 'corner'] } }, first.url);
      } finally {
        await first.close();
      }
      const second = await startTestServer({ dataDir });
      try {
        const record = await describeOk(channel_id, second.url);
        assert.deepEqual(record['layout'], { type: 'pip', order: ['main', 'corner'] });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  for (const [kind, target, body] of [
    ['CreateMultistreamChannel', createMultistream, {}],
    ['CreateMultistreamChannelWithHLS without layout', createMultistreamHls, { hls: [validVariant()] }],
  ] as const) {
    test(`of a ${kind} channel answers 400: it has no composite`, async () => {
      const channel_id = await createdId(target, body);
      assertError(
        await callApi(t.url, updateLayout, { channel_id, layout: 'grid' }),
        400,
        'InvalidParameter',
        `channel ${channel_id} has no composite playlist, so no layout`,
      );
      const record = await describeOk(channel_id);
      assert.ok(!('layout' in record), 'nothing was stored');
    });
  }

  test('of a deleted channel answers 404 and leaves its layout as it was', async () => {
    const channel_id = await createChannel(t.url, { hls: [validVariant()], layout: 'pip' });
    await ok(remove, { channel_id });
    assertError(
      await callApi(t.url, updateLayout, { channel_id, layout: 'grid' }),
      404,
      'NotFound',
      `channel ${channel_id} was deleted`,
    );
    assert.deepEqual((await describeOk(channel_id))['layout'], { type: 'pip' });
  });

  test('of an unknown channel answers 404', async () => {
    const channel_id = '0'.repeat(48);
    assertError(
      await callApi(t.url, updateLayout, { channel_id, layout: 'grid' }),
      404,
      'NotFound',
      `channel ${channel_id} does not exist`,
    );
  });

  test('of another token’s channel answers 404 and does not change it', async () => {
    const channel_id = await createChannel(t.url);
    assertError(
      await callApi(t.url, updateLayout, { channel_id, layout: 'pip' }, otherToken),
      404,
      'NotFound',
      `channel ${channel_id} does not exist`,
    );
    assert.deepEqual((await describeOk(channel_id))['layout'], { type: 'grid' });
  });
});

describe('every bad input answers 400 naming the field and the rule', () => {
  const layoutTypeRule = 'must be one of grid, featured, pip';
  const orderRule = 'layout.order must be an array of at most 16 ids';
  const idRule = (index: number): string =>
    `layout.order[${index}] must be a non-empty string of at most 255 characters`;
  /** [what, layout, message] */
  const badLayouts: [string, unknown, string][] = [
    ['a number', 3, 'layout must be a JSON object'],
    ['an array', ['grid'], 'layout must be a JSON object'],
    ['null', null, 'layout must be a JSON object'],
    ['an unknown string', 'mosaic', `layout ${layoutTypeRule}`],
    ['{type: "mosaic"}', { type: 'mosaic' }, `layout.type ${layoutTypeRule}`],
    ['a missing type', { order: ['a'] }, 'layout.type is required'],
    ['a non-string type', { type: 1 }, `layout.type ${layoutTypeRule}`],
    [
      'an unknown field in layout',
      { type: 'grid', columns: 3 },
      'layout.columns is not a known field (known: type, order)',
    ],
    ['order a string', { type: 'grid', order: 'a,b' }, orderRule],
    ['order an object', { type: 'grid', order: { 0: 'a' } }, orderRule],
    [
      'order with 17 ids',
      { type: 'grid', order: Array.from({ length: 17 }, (_, i) => `id-${i}`) },
      orderRule,
    ],
    [
      'order with a repeated id',
      { type: 'grid', order: ['a', 'b', 'a'] },
      'layout.order must not repeat an id',
    ],
    ['order with an empty string', { type: 'grid', order: ['a', ''] }, idRule(1)],
    ['order with a number', { type: 'grid', order: [7] }, idRule(0)],
    ['order with null', { type: 'grid', order: ['a', 'b', null] }, idRule(2)],
    ['order with 256 characters', { type: 'grid', order: ['x'.repeat(256)] }, idRule(0)],
  ];

  for (const [what, layout, message] of badLayouts) {
    test(`CreateChannel with layout ${what} answers 400: ${message}`, async () => {
      assertError(
        await callApi(t.url, create, { hls: [validVariant()], layout }),
        400,
        'InvalidParameter',
        message,
      );
    });
    test(`CreateMultistreamChannelWithHLS with layout ${what} answers 400: ${message}`, async () => {
      assertError(
        await callApi(t.url, createMultistreamHls, { hls: [validVariant()], layout }),
        400,
        'InvalidParameter',
        message,
      );
    });
  }

  test('UpdateLayout answers 400 for every bad layout and the stored layout stays', async () => {
    const channel_id = await createChannel(t.url, { hls: [validVariant()], layout: 'featured' });
    for (const [what, layout, message] of badLayouts) {
      const answer = await callApi(t.url, updateLayout, { channel_id, layout });
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.json)}`);
      assertError(answer, 400, 'InvalidParameter', message);
    }
    assert.deepEqual((await describeOk(channel_id))['layout'], { type: 'featured' });
  });

  const environmentRule = 'environment must be an integer from 0 to 2147483647';
  for (const [what, environment] of [
    ['negative', -1],
    ['not an integer', 0.5],
    ['a string', '0'],
    ['above 2^31 - 1', 2 ** 31],
    ['null', null],
  ] as const) {
    for (const [name, target, body] of [
      ['CreateMultistreamChannel', createMultistream, {}],
      ['CreateMultistreamChannelWithHLS', createMultistreamHls, { hls: [validVariant()] }],
    ] as const) {
      test(`${name} with environment ${what} answers 400: ${environmentRule}`, async () => {
        assertError(
          await callApi(t.url, target, { ...body, environment }),
          400,
          'InvalidParameter',
          environmentRule,
        );
      });
    }
  }

  test('CreateChannel does not take environment (it is a multistream field)', async () => {
    assertError(
      await callApi(t.url, create, { hls: [validVariant()], environment: 0 }),
      400,
      'InvalidParameter',
      'environment is not a known field (known: hls, auth_webhook_url, event_webhook_url, encrypt_key_uri, layout)',
    );
  });

  const unknownFieldCases: [string, unknown, string][] = [
    [
      createMultistream,
      { colour: 'red' },
      'colour is not a known field (known: auth_webhook_url, event_webhook_url, environment)',
    ],
    [
      createMultistream,
      { hls: [validVariant()] },
      'hls is not a known field (known: auth_webhook_url, event_webhook_url, environment)',
    ],
    [
      createMultistream,
      { layout: 'grid' },
      'layout is not a known field (known: auth_webhook_url, event_webhook_url, environment)',
    ],
    [
      createMultistreamHls,
      { hls: [validVariant()], colour: 'red' },
      'colour is not a known field (known: hls, auth_webhook_url, event_webhook_url, encrypt_key_uri, layout, environment)',
    ],
    [
      listPlaylists,
      { channel_id: 'a'.repeat(48), colour: 'red' },
      'colour is not a known field (known: channel_id)',
    ],
    [
      updateLayout,
      { channel_id: 'a'.repeat(48), layout: 'grid', colour: 'red' },
      'colour is not a known field (known: channel_id, layout)',
    ],
  ];
  for (const [target, body, message] of unknownFieldCases) {
    test(`${target} with an unknown top-level field answers 400: ${message}`, async () => {
      assertError(await callApi(t.url, target, body), 400, 'InvalidParameter', message);
    });
  }

  for (const [target, body] of [
    [listPlaylists, {}],
    [updateLayout, { layout: 'grid' }],
  ] as const) {
    test(`${target} without channel_id answers 400 naming channel_id`, async () => {
      assertError(await callApi(t.url, target, body), 400, 'InvalidParameter', 'channel_id is required');
    });
  }

  test('UpdateLayout without layout answers 400 naming layout', async () => {
    const channel_id = await createChannel(t.url);
    assertError(
      await callApi(t.url, updateLayout, { channel_id }),
      400,
      'InvalidParameter',
      'layout is required',
    );
  });

  for (const [target, body] of [
    [listPlaylists, { channel_id: 42 }],
    [updateLayout, { channel_id: 42, layout: 'grid' }],
    [listPlaylists, { channel_id: '' }],
    [updateLayout, { channel_id: '', layout: 'grid' }],
  ] as const) {
    test(`${target} with channel_id ${JSON.stringify(body.channel_id)} answers 400 naming channel_id`, async () => {
      assertError(
        await callApi(t.url, target, body),
        400,
        'InvalidParameter',
        'channel_id must be a non-empty string of at most 255 characters',
      );
    });
  }

  for (const [target, body] of [
    [createMultistream, {}],
    [createMultistreamHls, { hls: [validVariant()] }],
  ] as const) {
    test(`${target} with event_webhook_url "ftp://x" answers 400 naming it`, async () => {
      assertError(
        await callApi(t.url, target, { ...body, event_webhook_url: 'ftp://x' }),
        400,
        'InvalidParameter',
        'event_webhook_url must be an http or https URL',
      );
    });
  }

  for (const target of [createMultistream, createMultistreamHls, listPlaylists, updateLayout]) {
    test(`${target} with a JSON array body answers 400`, async () => {
      assertError(
        await callApi(t.url, target, []),
        400,
        'InvalidParameter',
        'the request body must be a JSON object',
      );
    });
  }
});
