/**
 * The HLS port's HTTP/1.1 server on real sockets: keep-alive, pipelining in order, HEAD, HTTP/1.0, the refusals
 * (each closes the connection, and nothing sent after a refused head is taken as a request), its timeouts, a
 * client leaving while its request waits, and the bound on what it reads ahead. Bytes are written and read raw.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpExchange } from '../../src/http/http-exchange.ts';
import { LeanHttpServer, type LeanHttpLimits } from '../../src/http/lean-http-server.ts';
import { until } from '../helpers/hls-origin-harness.ts';

interface Served {
  readonly port: number;
  readonly server: LeanHttpServer;
  /** Every request the handler was given, in order. */
  readonly seen: HttpExchange[];
  /** The server's side of each connection. */
  readonly sockets: Socket[];
}

const servers: LeanHttpServer[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** One body answered to every request for `/shared/<kind>`, as the origin answers one part to every viewer. */
const sharedBody = Buffer.alloc(20_000, 'shared ');
const sharedHeaders: Record<string, Readonly<Record<string, string>>> = {
  mp4: Object.freeze({ 'Content-Type': 'video/mp4' }),
  text: Object.freeze({ 'Content-Type': 'text/plain' }),
};

/**
 * A server whose handler answers `/wait/<ms>` after that many ms, `/hold` never (the test answers), `/big/<bytes>`
 * with that many bytes, `/shared/<kind>` with sharedBody, and anything else at once with `<method> <path>?<query>`.
 */
async function serve(limits: Partial<LeanHttpLimits> = {}): Promise<Served> {
  const seen: HttpExchange[] = [];
  const sockets: Socket[] = [];
  const server = new LeanHttpServer((exchange) => {
    seen.push(exchange);
    const text = `${exchange.method} ${exchange.path}?${exchange.query}`;
    const wait = /^\/wait\/(\d+)$/.exec(exchange.path);
    const big = /^\/big\/(\d+)$/.exec(exchange.path);
    const shared = sharedHeaders[exchange.path.slice('/shared/'.length)];
    if (shared !== undefined) exchange.answer(200, shared, sharedBody);
    else if (wait !== null)
      setTimeout(() => {
        exchange.answer(200, { 'Content-Type': 'text/plain' }, text);
      }, Number(wait[1]));
    else if (big !== null) exchange.answer(200, {}, Buffer.alloc(Number(big[1]), 120));
    else if (exchange.path !== '/hold') exchange.answer(200, { 'Content-Type': 'text/plain' }, text);
  }, limits);
  server.server.on('connection', (socket) => sockets.push(socket));
  servers.push(server);
  await new Promise<void>((resolve) => {
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  return { port: (server.server.address() as AddressInfo).port, server, seen, sockets };
}

/** A raw client: what it sent, everything it has read, and whether the server closed. */
interface Client {
  readonly socket: Socket;
  readonly text: () => string;
  readonly closed: () => boolean;
}

async function open(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  socket.on('end', () => (closed = true));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed: () => closed };
}

interface Parsed {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Splits what a client read into answers, by Content-Length (every answer of the server has one). */
function answersIn(text: string, headOnly = false): Parsed[] {
  const answers: Parsed[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    assert.ok(end !== -1, `an incomplete head: ${JSON.stringify(text.slice(at))}`);
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
    assert.ok(status !== null, `status line ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(': ');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 2));
    }
    const length = headOnly ? 0 : Number(headers.get('content-length'));
    answers.push({ status: Number(status[1]), headers, body: text.slice(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return answers;
}

const get = (path: string, ...headers: string[]): string =>
  [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, '', ''].join('\r\n');

describe('LeanHttpServer: answers', () => {
  test('two requests one after the other on one keep-alive connection, each with Content-Length and Date', async () => {
    const { port } = await serve();
    const client = await open(port);
    client.socket.write(get('/a?x=1', 'User-Agent: test/1'));
    await until(() => answersIn(client.text()).length === 1, 'the first answer');
    client.socket.write(get('/b'));
    await until(() => answersIn(client.text()).length === 2, 'the second answer');
    const [first = assert.fail(), second = assert.fail()] = answersIn(client.text());
    assert.equal(first.status, 200);
    assert.equal(first.body, 'GET /a?x=1');
    assert.equal(first.headers.get('content-length'), '10');
    assert.equal(first.headers.get('content-type'), 'text/plain');
    assert.match(first.headers.get('date') ?? '', /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.equal(first.headers.has('connection'), false);
    assert.equal(second.body, 'GET /b?');
    assert.equal(client.closed(), false);
    client.socket.destroy();
  });

  test('pipelined requests are answered in order even when the first answers last', async () => {
    const { port, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/wait/150') + get('/wait/10') + get('/now'));
    await until(() => answersIn(client.text()).length === 3, 'three answers');
    assert.deepEqual(
      answersIn(client.text()).map((answer) => answer.body),
      ['GET /wait/150?', 'GET /wait/10?', 'GET /now?'],
    );
    // One request at a time: the second was not taken before the first was answered.
    assert.equal(seen.length, 3);
    client.socket.destroy();
  });

  test('HEAD gets the head alone, with the length of the body it would have had', async () => {
    const { port } = await serve();
    const client = await open(port);
    client.socket.write(`HEAD /big/5000 HTTP/1.1\r\nHost: a\r\n\r\n${get('/after')}`);
    await until(() => client.text().includes('GET /after'), 'the answer after the HEAD');
    const text = client.text();
    const headEnd = text.indexOf('\r\n\r\n') + 4;
    const [head = assert.fail()] = answersIn(text.slice(0, headEnd), true);
    const [next = assert.fail(), ...more] = answersIn(text.slice(headEnd));
    assert.deepEqual(more, []);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '5000');
    assert.equal(next.body, 'GET /after?');
    client.socket.destroy();
  });

  test('empty lines before a request line are skipped (RFC 9112 §2.2)', async () => {
    const { port } = await serve();
    const client = await open(port);
    client.socket.write(`\r\n\r\n${get('/x')}`);
    await until(() => answersIn(client.text()).length === 1, 'the answer');
    assert.equal(answersIn(client.text())[0]?.body, 'GET /x?');
    client.socket.destroy();
  });

  test('Connection: close is answered with Connection: close and the server closes; what follows is not read', async () => {
    const { port, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/a', 'Connection: close') + get('/never'));
    await until(client.closed, 'the server to close');
    const answers = answersIn(client.text());
    assert.equal(answers.length, 1);
    assert.equal(answers[0]?.headers.get('connection'), 'close');
    assert.deepEqual(
      seen.map((exchange) => exchange.path),
      ['/a'],
    );
  });

  test('HTTP/1.0: closed after the answer, or kept open and said so when it asks for keep-alive', async () => {
    const { port } = await serve();
    const plain = await open(port);
    plain.socket.write('GET /old HTTP/1.0\r\n\r\n');
    await until(plain.closed, 'the server to close the HTTP/1.0 connection');
    assert.equal(answersIn(plain.text())[0]?.headers.get('connection'), 'close');

    const kept = await open(port);
    kept.socket.write('GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await until(() => answersIn(kept.text()).length === 1, 'the answer');
    assert.equal(answersIn(kept.text())[0]?.headers.get('connection'), 'keep-alive');
    await sleep(50);
    assert.equal(kept.closed(), false);
    kept.socket.destroy();
  });

  test('a large body is written whole after its head', async () => {
    const { port } = await serve();
    const client = await open(port);
    client.socket.write(get('/big/3000000') + get('/after'));
    await until(() => client.text().endsWith('GET /after?'), 'both answers', 5000);
    const [big, after] = answersIn(client.text());
    assert.equal(big?.body.length, 3_000_000);
    assert.equal(after?.body, 'GET /after?');
    client.socket.destroy();
  });
});

describe('LeanHttpServer: one body answered again and again', () => {
  test('each answer is whole and its own: its headers, HEAD without the body, HTTP/1.0 told keep-alive', async () => {
    const { port } = await serve();
    const shared = sharedBody.toString('latin1');
    const client = await open(port);
    client.socket.write(get('/shared/mp4') + get('/shared/mp4') + get('/shared/text') + get('/shared/mp4'));
    await until(() => answersIn(client.text()).length === 4, 'four answers');
    const answers = answersIn(client.text());
    const types = answers.map((answer) => answer.headers.get('content-type'));
    assert.deepEqual(types, ['video/mp4', 'video/mp4', 'text/plain', 'video/mp4']);
    for (const answer of answers) {
      assert.equal(answer.headers.get('content-length'), String(sharedBody.length));
      assert.equal(answer.body === shared, true, 'the body, whole');
    }
    const head = await open(port);
    head.socket.write(get('/shared/mp4').replace('GET', 'HEAD') + get('/x'));
    await until(() => head.text().endsWith('GET /x?'), 'the HEAD answer and the next');
    const headEnds = head.text().indexOf('\r\n\r\n') + 4;
    const [headOnly] = answersIn(head.text().slice(0, headEnds), true);
    assert.equal(headOnly?.headers.get('content-length'), String(sharedBody.length));
    assert.equal(
      head.text().startsWith('HTTP/1.1 200 OK', headEnds),
      true,
      'HEAD: no body, the next answer at once',
    );
    const old = await open(port);
    old.socket.write('GET /shared/mp4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await until(() => answersIn(old.text()).length === 1, 'the HTTP/1.0 answer');
    assert.equal(answersIn(old.text())[0]?.headers.get('connection'), 'keep-alive');
    assert.equal(answersIn(old.text())[0]?.body === shared, true, 'the body, whole');
    for (const each of [client, head, old]) each.socket.destroy();
  });

  test('a second later the same body is answered with that second in its Date', async () => {
    const { port } = await serve();
    const client = await open(port);
    client.socket.write(get('/shared/mp4'));
    await until(() => answersIn(client.text()).length === 1, 'the first answer');
    const first = answersIn(client.text())[0]?.headers.get('date');
    await sleep(1300);
    client.socket.write(get('/shared/mp4'));
    await until(() => answersIn(client.text()).length === 2, 'the second answer');
    const second = answersIn(client.text())[1];
    assert.notEqual(second?.headers.get('date'), first);
    assert.ok(Math.abs(Date.parse(second?.headers.get('date') ?? '') - Date.now()) <= 1500, 'a current Date');
    assert.equal(second?.body, sharedBody.toString('latin1'));
    client.socket.destroy();
  });
});

describe('LeanHttpServer: refusals close the connection', () => {
  const cases: [string, string, number][] = [
    [
      'a body smuggling a second request',
      `${get('/a', 'Content-Length: 24')}GET /smuggled HTTP/1.1\r\n\r\n`,
      413,
    ],
    ['chunked smuggling', `${get('/a', 'Transfer-Encoding: chunked')}0\r\n\r\n${get('/smuggled')}`, 413],
    ['no Host', `GET /a HTTP/1.1\r\n\r\n${get('/smuggled')}`, 400],
    ['a bare LF', `GET /a HTTP/1.1\r\nHost: a\nX: b\r\n\r\n${get('/smuggled')}`, 400],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ['not HTTP at all', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', 400],
    ['a head past 16 kB', `GET /a HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(17_000)}`, 431],
  ];
  for (const [name, bytes, status] of cases) {
    test(`${name}: ${status}, closed, and nothing after it taken as a request`, async () => {
      const { port, seen } = await serve();
      const client = await open(port);
      client.socket.write(Buffer.from(bytes, 'latin1'));
      await until(client.closed, 'the server to close');
      const answers = answersIn(client.text());
      assert.equal(answers.length, 1, client.text());
      const [answer = assert.fail()] = answers;
      assert.equal(answer.status, status);
      assert.equal(answer.headers.get('connection'), 'close');
      assert.match(answer.body, /^\{"error":\{"code":"InvalidParameter","message":".+"\}\}\n$/);
      assert.equal(seen.length, 0);
    });
  }

  test('a refused connection harms no other: the next client is answered', async () => {
    const { port } = await serve();
    const bad = await open(port);
    bad.socket.write('\0\0\0\0\r\n\r\n');
    const good = await open(port);
    good.socket.write(get('/fine'));
    await until(() => answersIn(good.text()).length === 1, 'the good answer');
    assert.equal(answersIn(good.text())[0]?.body, 'GET /fine?');
    await until(bad.closed, 'the bad one closed');
    good.socket.destroy();
  });
});

describe('LeanHttpServer: timeouts and clients that go', () => {
  test('a head that does not end within the head timeout gets 408 and is closed', async () => {
    const { port } = await serve({ headTimeoutMs: 300 });
    const client = await open(port);
    client.socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n');
    const started = performance.now();
    await until(client.closed, 'the server to close', 3000);
    assert.ok(performance.now() - started >= 300);
    assert.equal(answersIn(client.text())[0]?.status, 408);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout, silently', async () => {
    const { port } = await serve({ keepAliveTimeoutMs: 300 });
    const client = await open(port);
    client.socket.write(get('/a'));
    await until(() => answersIn(client.text()).length === 1, 'the answer');
    const started = performance.now();
    await until(client.closed, 'the server to close', 3000);
    assert.ok(performance.now() - started >= 250);
    assert.equal(answersIn(client.text()).length, 1);
  });

  test('a request waiting longer than the keep-alive timeout is not cut off', async () => {
    const { port } = await serve({ keepAliveTimeoutMs: 200, headTimeoutMs: 200 });
    const client = await open(port);
    client.socket.write(get('/wait/800'));
    await until(() => answersIn(client.text()).length === 1, 'the late answer', 3000);
    assert.equal(answersIn(client.text())[0]?.body, 'GET /wait/800?');
    client.socket.destroy();
  });

  test('a client that reads nothing of a large answer is let go after the stall timeout', async () => {
    const { port, sockets } = await serve({ stallTimeoutMs: 500 });
    const client = await open(port);
    client.socket.pause();
    client.socket.write(get('/big/20000000'));
    await until(() => sockets.length === 1 && sockets[0]?.writableLength !== 0, 'the answer to queue');
    await until(() => sockets[0]?.destroyed === true, 'the server to drop the stalled client', 5000);
    client.socket.destroy();
  });

  test('a client that closes while its request waits: the exchange is gone, its listener called once, a late answer ignored', async () => {
    const { port, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/hold'));
    await until(() => seen.length === 1, 'the request');
    const exchange = seen[0] ?? assert.fail();
    let calls = 0;
    exchange.onGone(() => (calls += 1));
    const removed = exchange.onGone(() => assert.fail('a removed listener was called'));
    removed();
    client.socket.destroy();
    await until(() => exchange.gone, 'the exchange to be gone');
    assert.equal(calls, 1);
    exchange.answer(200, {}, 'late');
    assert.equal(exchange.answered, false);
  });

  test('a client that half-closes while its request waits is taken as gone', async () => {
    const { port, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/hold'));
    await until(() => seen.length === 1, 'the request');
    client.socket.end();
    await until(() => seen[0]?.gone === true, 'the exchange to be gone');
    await until(client.closed, 'the server to close');
  });

  test('while a request waits, at most about 64 kB more is read from its connection', async () => {
    const { port, sockets, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/hold'));
    await until(() => seen.length === 1, 'the request');
    const junk = Buffer.alloc(4 * 1024 * 1024, get('/x'));
    client.socket.write(junk);
    await sleep(300);
    const serverSide = sockets[0] ?? assert.fail();
    assert.ok(serverSide.bytesRead < 512 * 1024, `the server read ${serverSide.bytesRead} bytes ahead`);
    // Answered, it takes the pipelined requests again.
    seen[0]?.answer(200, {}, 'held');
    await until(() => seen.length > 100, 'the pipelined requests to be taken');
    client.socket.destroy();
  });

  test('close() drops every connection, waiting ones included, and tells their exchanges', async () => {
    const { port, server, seen } = await serve();
    const client = await open(port);
    client.socket.write(get('/hold'));
    await until(() => seen.length === 1, 'the request');
    server.close();
    await until(client.closed, 'the connection to close');
    await until(() => seen[0]?.gone === true, 'the exchange to be gone');
    assert.equal(server.connections, 0);
  });
});
