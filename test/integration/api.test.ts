/**
 * The channel API over real HTTP: each action's answer, every refusal with its status, code and message,
 * and the error body shape `{"error":{"code","message"}}` on every one of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import packageJson from '../../package.json' with { type: 'json' };
import {
  assertApiError as assertError,
  callApi,
  createChannel,
  listChannelIds,
  parseRaw as parsed,
  otherToken,
  rawRequest,
  startTestServer,
  testToken,
  validVariant,
  type RawRequest,
  type TestServer,
} from '../helpers/server.ts';

const create = 'ImageFlux_20180905.CreateChannel';
const remove = 'ImageFlux_20180501.DeleteChannel';
const list = 'ImageFlux_20200729.ListChannelIDs';
const describeChannel = 'Nagare_20261124.DescribeChannel';

/** The message ends with `known actions: A, B, …`, which includes at least the four channel actions. */
function assertListsActions(answer: { json: unknown }): void {
  const message = (answer.json as { error: { message: string } }).error.message;
  const named = message.split('; known actions: ')[1]?.split(', ') ?? [];
  for (const action of [create, remove, list, describeChannel]) assert.ok(named.includes(action), message);
}

const isoTimestamp = (value: unknown): void => {
  assert.equal(typeof value, 'string');
  assert.equal(new Date(value as string).toISOString(), value);
};

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.close();
});

describe('successful actions', () => {
  test('CreateChannel answers an unguessable channel_id, the signaling URL and an unrelated playlist URL', async () => {
    const answer = await callApi(t.url, create, { hls: [validVariant()] });
    assert.equal(answer.status, 200);
    const json = answer.json as Record<string, string>;
    assert.deepEqual(Object.keys(json).sort(), ['channel_id', 'playlist_url', 'sora_url']);
    const channelId = json['channel_id']!;
    assert.match(channelId, /^[0-9a-f]{32,}$/, 'at least 128 bits as hex');
    const port = new URL(t.url).port;
    assert.equal(json['sora_url'], `ws://127.0.0.1:${port}/signaling`);
    const match = new RegExp(`^http://127\\.0\\.0\\.1:${port}/hls/([^/]+)/([^/]+)\\.m3u8$`).exec(
      json['playlist_url']!,
    );
    assert.ok(match, json['playlist_url']);
    for (const part of [match[1]!, match[2]!]) {
      for (let i = 0; i + 8 <= channelId.length; i += 1) {
        assert.ok(!part.includes(channelId.slice(i, i + 8)), `${part} leaks part of the channel_id`);
      }
    }
  });

  test('DescribeChannel answers the whole record with defaults filled and audio rounded down', async () => {
    const hls = [
      validVariant(),
      {
        video: { width: 1280, height: 720, fps: 60, bps: 2_500_000, codec: 'h264_main' },
        audio: { bps: 320_001 },
        durationSeconds: 2,
      },
    ];
    hls[0]!['audio'] = { bps: 70_000 };
    const before = new Date().toISOString();
    const created = await callApi(t.url, create, {
      hls,
      auth_webhook_url: 'https://auth.example.com/hook',
      event_webhook_url: 'http://events.example.com/nagare/events',
    });
    assert.equal(created.status, 200);
    const { channel_id, sora_url, playlist_url } = created.json as Record<string, string>;

    const described = await callApi(t.url, describeChannel, { channel_id });
    assert.equal(described.status, 200);
    const record = described.json as Record<string, unknown>;
    isoTimestamp(record['created_at']);
    assert.ok((record['created_at'] as string) >= before);
    assert.deepEqual(record, {
      channel_id,
      type: 'composite',
      state: 'idle',
      created_at: record['created_at'],
      sora_url,
      playlist_url,
      layout: { type: 'grid' },
      hls: [
        {
          video: { width: 640, height: 480, fps: 30, bps: 1_000_000, codec: 'h264_high' },
          audio: { bps: 64_000 },
          durationSeconds: 2,
        },
        {
          video: { width: 1280, height: 720, fps: 60, bps: 2_500_000, codec: 'h264_main' },
          audio: { bps: 320_000 },
          durationSeconds: 2,
        },
      ],
      auth_webhook_url: 'https://auth.example.com/hook',
      event_webhook_url: 'http://events.example.com/nagare/events',
      connections: 0,
      traffic: { ingest_bytes: 0, hls_bytes: 0, viewers: 0, live_edge_ms: null },
    });
  });

  test('CreateChannel with empty webhook URLs stores no webhooks', async () => {
    const channel_id = await createChannel(t.url, {
      hls: [validVariant()],
      auth_webhook_url: '',
      event_webhook_url: '',
    });
    const record = (await callApi(t.url, describeChannel, { channel_id })).json as Record<string, unknown>;
    assert.ok(!('auth_webhook_url' in record));
    assert.ok(!('event_webhook_url' in record));
  });

  test('DeleteChannel marks the channel deleted, unlists it, and answers 200 again on a retry', async () => {
    const channel_id = await createChannel(t.url);
    assert.ok((await listChannelIds(t.url)).includes(channel_id));

    const deleted = await callApi(t.url, remove, { channel_id });
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json, { channel_id });

    const record = (await callApi(t.url, describeChannel, { channel_id })).json as Record<string, string>;
    assert.equal(record['state'], 'deleted');
    isoTimestamp(record['deleted_at']);
    assert.ok(record['deleted_at']! >= record['created_at']!);
    assert.ok(!(await listChannelIds(t.url)).includes(channel_id));

    const again = await callApi(t.url, remove, { channel_id });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { channel_id });
    const after = (await callApi(t.url, describeChannel, { channel_id })).json as Record<string, string>;
    assert.equal(after['deleted_at'], record['deleted_at'], 'a retried delete keeps the first deleted_at');
  });

  test('ListChannelIDs answers the caller’s channels oldest first, and [] when there are none', async () => {
    const own = await startTestServer();
    try {
      assert.deepEqual((await callApi(own.url, list, {})).json, { channel_ids: [] });
      const ids = [await createChannel(own.url), await createChannel(own.url), await createChannel(own.url)];
      assert.deepEqual((await callApi(own.url, list, {})).json, { channel_ids: ids });
      assert.deepEqual((await callApi(own.url, list, '')).json, { channel_ids: ids }, 'empty body is {}');
    } finally {
      await own.close();
    }
  });

  test('--public-url makes sora_url wss://…/signaling and playlist_url https://… under its prefix', async () => {
    const own = await startTestServer({ publicUrl: 'https://live.example.com/nagare' });
    try {
      const answer = await callApi(own.url, create, { hls: [validVariant()] });
      const json = answer.json as Record<string, string>;
      assert.equal(json['sora_url'], 'wss://live.example.com/nagare/signaling');
      assert.match(json['playlist_url']!, /^https:\/\/live\.example\.com\/nagare\/hls\/[^/]+\/[^/]+\.m3u8$/);
    } finally {
      await own.close();
    }
  });

  test('100 concurrent CreateChannel calls give 100 distinct channels, all listed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => callApi(t.url, create, { hls: [validVariant()] })),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      answers.map(() => 200),
    );
    const json = answers.map((answer) => answer.json as Record<string, string>);
    const ids = new Set(json.map((entry) => entry['channel_id']));
    assert.equal(ids.size, 100);
    assert.equal(new Set(json.map((entry) => entry['playlist_url'])).size, 100);
    const listed = new Set(await listChannelIds(t.url));
    for (const id of ids) assert.ok(listed.has(id!), `${id} is not listed`);
  });

  test('GET /healthz answers ok and the package version', async () => {
    const response = await fetch(`${t.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true, version: packageJson.version });
  });
});

describe('CreateChannel refuses every bad input with 400 naming the field and the rule', () => {
  const video = (patch: Record<string, unknown>): unknown => ({
    hls: [{ ...validVariant(), video: { ...(validVariant()['video'] as object), ...patch } }],
  });
  const variant = (patch: Record<string, unknown>): unknown => ({ hls: [{ ...validVariant(), ...patch }] });
  const fps = 'hls[0].video.fps must be an integer from 1 to 60';
  const videoBps = 'hls[0].video.bps must be an integer from 50000 to 20000000';
  const duration = 'hls[0].durationSeconds must be an integer from 1 to 10';
  const hlsRule = 'hls must be an array of 1 to 8 variants';
  const topKnown = '(known: hls, auth_webhook_url, event_webhook_url, encrypt_key_uri, layout)';
  const cases: [string, unknown, string][] = [
    ...(['width', 'height'] as const).flatMap((side) =>
      [641, 34, 4098, '640', 640.5].map((value): [string, unknown, string] => [
        `${side} ${JSON.stringify(value)}`,
        video({ [side]: value }),
        `hls[0].video.${side} must be an even integer from 36 to 4096`,
      ]),
    ),
    ['fps 0', video({ fps: 0 }), fps],
    ['fps 61', video({ fps: 61 }), fps],
    ['fps 29.97', video({ fps: 29.97 }), fps],
    ['video bps 49999', video({ bps: 49_999 }), videoBps],
    ['video bps 20000001', video({ bps: 20_000_001 }), videoBps],
    [
      'codec h265',
      video({ codec: 'h265' }),
      'hls[0].video.codec must be one of h264_high, h264_main, h264_baseline',
    ],
    [
      'audio bps 31999',
      variant({ audio: { bps: 31_999 } }),
      'hls[0].audio.bps must be an integer of at least 32000',
    ],
    ['audio bps missing', variant({ audio: {} }), 'hls[0].audio.bps is required'],
    ['durationSeconds 0', variant({ durationSeconds: 0 }), duration],
    ['durationSeconds 11', variant({ durationSeconds: 11 }), duration],
    [
      'durationSeconds differing between variants',
      {
        hls: [
          { ...validVariant(), durationSeconds: 2 },
          { ...validVariant(), durationSeconds: 4 },
        ],
      },
      'hls[1].durationSeconds must equal hls[0].durationSeconds (variants share segment boundaries)',
    ],
    ['hls missing', {}, 'hls is required'],
    ['hls empty', { hls: [] }, hlsRule],
    ['9 variants', { hls: Array.from({ length: 9 }, validVariant) }, hlsRule],
    ['hls an object', { hls: validVariant() }, hlsRule],
    [
      'an unknown top-level field',
      { hls: [validVariant()], colour: 'red' },
      `colour is not a known field ${topKnown}`,
    ],
    [
      'an unknown field in hls[0].video',
      video({ colour: 'red' }),
      'hls[0].video.colour is not a known field (known: width, height, fps, bps, codec)',
    ],
    ['a JSON array body', [validVariant()], 'the request body must be a JSON object'],
    ['a null body', null, 'the request body must be a JSON object'],
    ...['auth_webhook_url', 'event_webhook_url'].flatMap((field) =>
      ['ftp://x', 'not a url'].map((url): [string, unknown, string] => [
        `${field} "${url}"`,
        { hls: [validVariant()], [field]: url },
        `${field} must be an http or https URL`,
      ]),
    ),
  ];
  for (const [what, body, message] of cases) {
    test(`CreateChannel with ${what} answers 400: ${message}`, async () => {
      assertError(await callApi(t.url, create, body), 400, 'InvalidParameter', message);
    });
  }

  for (const action of [remove, describeChannel]) {
    test(`${action} without channel_id answers 400 naming channel_id`, async () => {
      assertError(await callApi(t.url, action, {}), 400, 'InvalidParameter', 'channel_id is required');
    });
  }
});

describe('authentication and ownership', () => {
  test('a missing token, a wrong token and a Basic scheme all answer the same 401 with WWW-Authenticate', async () => {
    // rawRequest, not callApi: callApi's token parameter defaults to testToken even when given undefined.
    const headers = { 'X-Sora-Target': list, 'Content-Type': 'application/json' };
    const basic = `Basic ${Buffer.from(`user:${testToken}`).toString('base64')}`;
    const answers = await Promise.all(
      [{}, { Authorization: 'Bearer wrong-token-0123456789abcdef' }, { Authorization: basic }].map(
        async (authorization) =>
          parsed(await rawRequest(t.url, { headers: { ...headers, ...authorization }, body: '{}' })),
      ),
    );
    for (const answer of answers) {
      assertError(answer, 401, 'Unauthorized', 'a valid Bearer token is required');
      assert.equal(answer.headers['www-authenticate'], 'Bearer');
      assert.equal(answer.text, answers[0]!.text, 'the body says nothing about why');
    }
  });

  for (const action of [describeChannel, remove]) {
    test(`${action} of an unknown channel_id answers 404`, async () => {
      const channel_id = '0'.repeat(48);
      const answer = await callApi(t.url, action, { channel_id });
      assertError(answer, 404, 'NotFound', `channel ${channel_id} does not exist`);
    });
  }

  test('another token cannot see, list or delete a channel, which stays intact for its owner', async () => {
    const channel_id = await createChannel(t.url);
    const unknown = `channel ${channel_id} does not exist`;
    assertError(await callApi(t.url, describeChannel, { channel_id }, otherToken), 404, 'NotFound', unknown);
    assertError(await callApi(t.url, remove, { channel_id }, otherToken), 404, 'NotFound', unknown);
    assert.ok(!(await listChannelIds(t.url, otherToken)).includes(channel_id));

    const owned = await callApi(t.url, describeChannel, { channel_id });
    assert.equal(owned.status, 200);
    assert.equal((owned.json as { state: string }).state, 'idle');
    assert.ok((await listChannelIds(t.url)).includes(channel_id));
  });
});

describe('HTTP-level refusals', () => {
  const auth = { Authorization: `Bearer ${testToken}`, 'Content-Type': 'application/json' };
  /** POST / through node:http: the test token and JSON content type, unless replaced (undefined drops one). */
  const post = async (headers: Record<string, string | undefined>, body: RawRequest['body']) => {
    const merged = new Map<string, string | undefined>([...Object.entries(auth), ...Object.entries(headers)]);
    const sent = [...merged].filter((entry): entry is [string, string] => entry[1] !== undefined);
    return parsed(await rawRequest(t.url, { headers: Object.fromEntries(sent), body }));
  };

  for (const method of ['GET', 'PUT', 'DELETE']) {
    test(`${method} / answers 405 with Allow: POST`, async () => {
      const answer = parsed(await rawRequest(t.url, { method, headers: { ...auth, 'X-Sora-Target': list } }));
      assertError(answer, 405, 'MethodNotAllowed', `${method} is not allowed here; use POST`);
      assert.equal(answer.headers['allow'], 'POST');
    });
  }

  for (const path of ['/nope', '/../etc/passwd', '/hls/../../etc/passwd', '/healthz/../../../etc/passwd/']) {
    test(`GET ${path} answers a 404 JSON error`, async () => {
      const answer = parsed(await rawRequest(t.url, { method: 'GET', path }));
      assertError(answer, 404, 'NotFound', 'not found');
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    });
  }

  // Regression: paths were once parsed as URL references, so `//` threw (500) and `//nope/` reached the API.
  for (const path of ['//', '//nope/']) {
    test(`GET ${path} answers a 404 JSON error`, async () => {
      assertError(parsed(await rawRequest(t.url, { method: 'GET', path })), 404, 'NotFound', 'not found');
    });
  }

  const tooLarge = 'the request body must be at most 65536 bytes';
  const jsonOfSize = (bytes: number): string => `{"hls":"${'a'.repeat(bytes - 10)}"}`;

  test('a body of 64 KiB + 1 with Content-Length answers 413', async () => {
    const body = jsonOfSize(64 * 1024 + 1);
    assert.equal(Buffer.byteLength(body), 64 * 1024 + 1);
    assertError(await callApi(t.url, create, body), 413, 'PayloadTooLarge', tooLarge);
  });

  test('a chunked body of 64 KiB + 1 without Content-Length answers 413', async () => {
    const body = jsonOfSize(64 * 1024 + 1);
    const chunks = Array.from({ length: Math.ceil(body.length / 4096) }, (_, i) =>
      body.slice(i * 4096, (i + 1) * 4096),
    );
    const answer = await post({ 'X-Sora-Target': create }, chunks);
    assert.equal(answer.headers['transfer-encoding'], undefined, 'the answer itself has a length');
    assertError(answer, 413, 'PayloadTooLarge', tooLarge);
  });

  test('a chunked body of exactly 64 KiB is read and judged by the schema, not refused as too large', async () => {
    const body = jsonOfSize(64 * 1024);
    const answer = await post({ 'X-Sora-Target': create }, [body]);
    assertError(answer, 400, 'InvalidParameter', 'hls must be an array of 1 to 8 variants');
  });

  for (const [what, type] of [
    ['text/plain', 'text/plain'],
    ['no Content-Type', undefined],
  ] as const) {
    test(`${what} answers 415`, async () => {
      const answer = await post({ 'X-Sora-Target': list, 'Content-Type': type }, '{}');
      assertError(answer, 415, 'UnsupportedMediaType', 'Content-Type must be application/json');
    });
  }

  test('Content-Type application/json with a charset parameter is accepted', async () => {
    const answer = await callApi(t.url, list, {}, testToken, {
      'Content-Type': 'application/json; charset=utf-8',
    });
    assert.equal(answer.status, 200);
  });

  test('an unknown X-Sora-Target answers 400 listing the known actions', async () => {
    const answer = await callApi(t.url, 'ImageFlux_20180905.Nope', {});
    assertError(
      answer,
      400,
      'InvalidParameter',
      /^X-Sora-Target names an unknown action "ImageFlux_20180905\.Nope"; /,
    );
    assertListsActions(answer);
  });

  test('a missing X-Sora-Target answers 400 listing the known actions', async () => {
    const answer = await post({}, '{}');
    assertError(answer, 400, 'InvalidParameter', /^X-Sora-Target is missing; /);
    assertListsActions(answer);
  });

  test('truncated JSON answers 400, not 500', async () => {
    const answer = await callApi(t.url, create, '{"hls":');
    assertError(answer, 400, 'InvalidParameter', /^the request body is not valid JSON/);
  });

  test('a body of invalid UTF-8 bytes answers 400, not 500', async () => {
    const body = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]);
    const answer = await post({ 'X-Sora-Target': create }, body);
    assertError(answer, 400, 'InvalidParameter', /^the request body is not valid (JSON|UTF-8)/);
  });

  test('invalid UTF-8 inside an otherwise valid body answers 400 instead of being stored altered', async () => {
    const body = Buffer.concat([
      Buffer.from(`{"hls":[${JSON.stringify(validVariant())}],"auth_webhook_url":"https://example.com/`),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    const answer = await post({ 'X-Sora-Target': create }, body);
    assertError(answer, 400, 'InvalidParameter', /UTF-8/);
  });
});
