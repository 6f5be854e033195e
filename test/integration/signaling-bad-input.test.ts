/**
 * The /signaling WebSocket under bad input (shared/SORA-PROTOCOL.md §2-3, §7): every malformed, out-of-order
 * or hostile message ends the connection with the right close code and a readable reason, or is dropped and
 * counted; none of it harms the process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { closeCodes } from '../../src/signaling/close-codes.ts';
import type { SignalingCounters } from '../../src/signaling/signaling-session.ts';
import { callApi, createChannel, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectMessage, rawText, type Json } from '../helpers/signaling-client.ts';

type Frame = string | Buffer | Json;
interface Closed {
  code: number;
  reason: string;
}

const waitMs = 5000;

/** A raw signaling client: keeps every message it got and how its socket closed. */
class SignalingClient {
  readonly ws: WebSocket;
  readonly messages: Json[] = [];
  readonly closed: Promise<Closed>;
  #closed: Closed | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(url: string) {
    this.ws = new WebSocket(url);
    // Writes into a socket the server already closed may fail; the close event is what the tests check.
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(rawText(data)) as Json);
      this.#changed();
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.#closed = { code, reason: reason.toString('utf8') };
        resolve(this.#closed);
        this.#changed();
      });
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: Frame): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** The first message of `type`; fails at once if the socket closes first. */
  async message(type: string, timeoutMs = waitMs): Promise<Json> {
    return this.#waitFor(`a ${type} message`, timeoutMs, () => {
      const found = this.messages.find((message) => message['type'] === type);
      if (found === undefined && this.#closed !== undefined) {
        throw new Error(`closed ${this.#closed.code} "${this.#closed.reason}" before ${type}`);
      }
      return found;
    });
  }

  async closeInfo(timeoutMs = waitMs): Promise<Closed> {
    return this.#waitFor('the close', timeoutMs, () => this.#closed);
  }

  /** Ends the socket from our side if the server has not; resolves once it is closed. */
  async end(): Promise<void> {
    if (this.#closed === undefined) this.ws.terminate();
    await this.closed;
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  async #waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(attempt);
      };
      const attempt = (): void => {
        try {
          const value = check();
          if (value === undefined) return;
          done();
          resolve(value);
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const timer = setTimeout(() => {
        done();
        const types = this.messages.map((message) => String(message['type']));
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got [${types.join(', ')}]`));
      }, timeoutMs);
      this.#listeners.add(attempt);
      attempt();
    });
  }
}

async function until(what: string, check: () => boolean, timeoutMs = waitMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface RejectCase {
  name: string;
  frame: (channelId: string) => Frame;
  code: number;
  reason: RegExp;
}

const rejectCases: RejectCase[] = [
  {
    name: 'a non-JSON text frame',
    frame: () => 'not json {',
    code: 4400,
    reason: /not valid JSON/,
  },
  {
    name: 'a binary frame, even one holding a valid connect',
    frame: (id) => Buffer.from(JSON.stringify(connectMessage(id))),
    code: 4400,
    reason: /binary frames are not accepted/,
  },
  {
    name: 'a JSON array',
    frame: () => '[{"type":"connect"}]',
    code: 4400,
    reason: /must be a JSON object/,
  },
  {
    name: 'a JSON string',
    frame: () => '"connect"',
    code: 4400,
    reason: /must be a JSON object/,
  },
  {
    name: 'a message without type',
    frame: (id) => ({ role: 'sendonly', channel_id: id }),
    code: 4400,
    reason: /^type is required$/,
  },
  {
    name: 'a message whose type is a number',
    frame: () => ({ type: 7 }),
    code: 4400,
    reason: /^type must be a non-empty string/,
  },
  {
    name: 'connect with role "publisher"',
    frame: (id) => connectMessage(id, { role: 'publisher' }),
    code: 4400,
    reason: /^role must be one of sendrecv, sendonly, recvonly$/,
  },
  {
    name: 'connect without channel_id',
    // JSON.stringify leaves an undefined field out.
    frame: () => connectMessage(undefined),
    code: 4400,
    reason: /^channel_id is required$/,
  },
  {
    name: 'connect with channel_id 123 (a number)',
    frame: () => connectMessage(123),
    code: 4400,
    reason: /^channel_id must be a non-empty string/,
  },
  {
    name: 'connect with video.codec_type 7',
    frame: (id) => connectMessage(id, { video: { codec_type: 7 } }),
    code: 4400,
    reason: /^video\.codec_type must be a string/,
  },
  {
    name: 'an answer before any offer',
    frame: () => ({ type: 'answer', sdp: 'v=0\r\n' }),
    code: 4400,
    reason: /answer without an offer/,
  },
  {
    name: 'connect to a channel that does not exist',
    frame: () => connectMessage('no-such-channel'),
    code: 4404,
    reason: /channel no-such-channel does not exist/,
  },
  {
    name: 'connect with video codec_type AV1',
    frame: (id) => connectMessage(id, { video: { codec_type: 'AV1' } }),
    code: 4415,
    reason: /video codec AV1 is not supported/,
  },
];

describe('signaling WebSocket under bad input', () => {
  let server: TestServer | undefined;
  const clients = new Set<SignalingClient>();

  before(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await Promise.all([...clients].map((client) => client.end()));
    clients.clear();
  });

  after(async () => {
    await server?.close();
  });

  const started = (): TestServer => {
    assert.ok(server !== undefined, 'server did not start');
    return server;
  };
  const counters = (): SignalingCounters => ({ ...started().server.signaling.counters });
  const open = async (on: TestServer = started()): Promise<SignalingClient> => {
    const client = new SignalingClient(`ws://127.0.0.1:${on.server.port}/signaling`);
    clients.add(client);
    await once(client.ws, 'open');
    return client;
  };
  /** A client that has sent a valid connect and got its offer. */
  const offered = async (on: TestServer = started()): Promise<{ client: SignalingClient; offer: Json }> => {
    const channelId = await createChannel(on.url);
    const client = await open(on);
    client.send(connectMessage(channelId));
    return { client, offer: await client.message('offer') };
  };

  for (const c of rejectCases) {
    test(`${c.name} closes with ${c.code} and a reason matching ${String(c.reason)}`, async () => {
      const channelId = await createChannel(started().url);
      const before = counters();
      const client = await open();
      client.send(c.frame(channelId));
      const closed = await client.closeInfo();
      assert.equal(closed.code, c.code, closed.reason);
      assert.match(closed.reason, c.reason);
      assert.equal(client.messages.length, 0, 'nothing is sent before the close');
      // 4400s count as bad messages; refusing a well-formed connect (4404, 4415) does not.
      const counted = c.code === closeCodes.badMessage ? 1 : 0;
      assert.equal(counters().badMessages, before.badMessages + counted);
    });
  }

  test('connect to a deleted channel closes with 4404 saying it was deleted', async () => {
    const channelId = await createChannel(started().url);
    const deleted = await callApi(started().url, 'ImageFlux_20180501.DeleteChannel', {
      channel_id: channelId,
    });
    assert.equal(deleted.status, 200);
    const client = await open();
    client.send(connectMessage(channelId));
    const closed = await client.closeInfo();
    assert.equal(closed.code, closeCodes.channelNotFound);
    assert.match(closed.reason, /was deleted/);
  });

  test('an unknown message type is dropped and counted; the socket stays open and a later connect gets an offer', async () => {
    const channelId = await createChannel(started().url);
    const before = counters();
    const client = await open();
    client.send({ type: 'hello-from-the-future', x: 1 });
    client.send(connectMessage(channelId));
    const offer = await client.message('offer');
    assert.equal(offer['channel_id'], channelId);
    assert.ok(client.isOpen);
    assert.equal(counters().unknownMessages, before.unknownMessages + 1);
    assert.equal(counters().badMessages, before.badMessages);
  });

  test('a second connect after the offer closes with 4400', async () => {
    const { client, offer } = await offered();
    client.send(connectMessage(offer['channel_id']));
    const closed = await client.closeInfo();
    assert.equal(closed.code, closeCodes.badMessage);
    assert.match(closed.reason, /connect was already received/);
  });

  test('an answer whose SDP does not parse, after a real offer, closes with 4400 naming the answer SDP', async () => {
    const { client } = await offered();
    client.send({ type: 'answer', sdp: 'v=0\r\nnonsense' });
    const closed = await client.closeInfo(1000);
    assert.equal(closed.code, closeCodes.badMessage);
    assert.match(closed.reason, /answer SDP/);
    assert.equal(client.messages.filter((m) => m['type'] === 'notify').length, 0, 'not announced');
  });

  test('an answer SDP with an m-line that has no common codec closes with 4400 naming the answer SDP', async () => {
    const { client } = await offered();
    client.send({ type: 'answer', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n' });
    const closed = await client.closeInfo();
    assert.equal(closed.code, closeCodes.badMessage);
    assert.match(closed.reason, /^answer SDP was rejected/);
  });

  test('a disconnect message after the offer makes the server close with 1000 NO-ERROR', async () => {
    const { client } = await offered();
    client.send({ type: 'disconnect', reason: 'NO-ERROR' });
    const closed = await client.closeInfo();
    assert.deepEqual(closed, { code: 1000, reason: 'NO-ERROR' });
  });

  test('a message over 256 KiB is refused by the WebSocket layer with 1009', async () => {
    const channelId = await createChannel(started().url);
    const client = await open();
    client.send(connectMessage(channelId, { sdp: 'x'.repeat(257 * 1024) }));
    const closed = await client.closeInfo();
    // ws closes a too-big message with 1009 and no reason of its own.
    assert.equal(closed.code, 1009);
    assert.equal(client.messages.length, 0);
  });

  test('a flood of 1000 unknown-type messages at once closes with 4429 and counts one flood', async () => {
    const before = counters();
    const client = await open();
    for (let i = 0; i < 1000; i += 1) client.send({ type: 'noise', i });
    const closed = await client.closeInfo();
    assert.equal(closed.code, closeCodes.tooManyMessages);
    assert.match(closed.reason, /too many messages/);
    assert.equal(counters().floods, before.floods + 1);
    const dropped = counters().unknownMessages - before.unknownMessages;
    assert.ok(dropped >= 200 && dropped < 1000, `${dropped} messages went through before the cut`);
  });

  test('a client that never sends connect is closed with 4408 after connectTimeoutMs', async () => {
    const short = await startTestServer({}, { signaling: { connectTimeoutMs: 300 } });
    try {
      const openedAt = Date.now();
      const client = await open(short);
      const closed = await client.closeInfo();
      assert.equal(closed.code, closeCodes.timeout);
      assert.match(closed.reason, /no connect message in time/);
      assert.ok(Date.now() - openedAt >= 250, `closed after ${Date.now() - openedAt} ms`);
    } finally {
      await short.close();
    }
  });

  test('a client that gets the offer and never answers is closed with 4408 after answerTimeoutMs', async () => {
    const short = await startTestServer({}, { signaling: { answerTimeoutMs: 500 } });
    try {
      const { client } = await offered(short);
      const offeredAt = Date.now();
      const closed = await client.closeInfo();
      assert.equal(closed.code, closeCodes.timeout);
      assert.match(closed.reason, /no answer in time/);
      assert.ok(Date.now() - offeredAt >= 400, `closed ${Date.now() - offeredAt} ms after the offer`);
    } finally {
      await short.close();
    }
  });

  for (const path of ['/nope', '/signaling/x', '/']) {
    test(`an upgrade on ${path} is refused with 404 and never opens a socket`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${started().server.port}${path}`);
      const outcome = await new Promise<string>((resolve) => {
        ws.on('open', () => {
          resolve('open');
        });
        ws.on('unexpected-response', (req, res) => {
          res.resume();
          req.destroy();
          resolve(`HTTP ${res.statusCode ?? 0}`);
        });
        ws.on('error', (err) => {
          resolve(`error ${err.message}`);
        });
      });
      if (outcome === 'open') ws.terminate();
      assert.equal(outcome, 'HTTP 404');
    });
  }

  test('after all of that the process still serves: CreateChannel works, a fresh connect is offered, sessions are released', async () => {
    const { client, offer } = await offered();
    assert.equal(typeof offer['sdp'], 'string');
    assert.match(offer['sdp'] as string, /^v=0\r\n/);
    assert.equal(typeof offer['connection_id'], 'string');
    await client.end();
    await until('every signaling session to end', () => started().server.signaling.activeSessions === 0);
    const health = await fetch(`${started().url}/healthz`);
    assert.equal(health.status, 200);
  });
});
