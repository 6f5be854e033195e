/**
 * The HLS port's HTTP/1.1 server: requests whose answers are whole bytes known at once (playlists, segments,
 * parts), on keep-alive connections, pipelining included.
 *
 * Why not node:http: an HLS origin answers tens of thousands of small requests a second, and node:http spends most
 * of its time per request building objects (IncomingMessage, ServerResponse, header maps) that such an answer
 * does not need. Measured on one core with wrk and a 2 kB answer: node:http about 30 000 answers a second, the
 * same sockets written directly twice that (nginx, for scale, about 65 000 a CPU-second). So the HLS port parses
 * the request head itself (request-head.ts, strict) and writes each answer as one head and one body.
 *
 * The same limits as every other listener of Nagare (http-server.ts): a client has 10 s to send a request's head,
 * an idle keep-alive connection is closed after 5 s, and a client that reads nothing of its answer for a minute
 * is let go. A bad head gets its 4xx/5xx and the connection is closed; anything sent after it is not read.
 * Pipelined requests are answered in order, one at a time; while one waits (a blocking playlist request), at
 * most 64 kB more is read from its connection before reading stops.
 */
import { STATUS_CODES } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AnswerHeaders, HttpExchange } from './http-exchange.ts';
import { isHeadError, parseRequestHead, type RequestHead } from './request-head.ts';

export interface LeanHttpLimits {
  /** The most bytes of one request head. Default 16 kB, as node:http. */
  maxHeadBytes: number;
  /** From a head's first byte to its end. Default 10 s. */
  headTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs: number;
  /** An answer of which the client reads nothing for this long is dropped with its connection. Default 60 s. */
  stallTimeoutMs: number;
}

const defaultLimits: LeanHttpLimits = {
  maxHeadBytes: 16 * 1024,
  headTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  stallTimeoutMs: 60_000,
};

/** Bytes read ahead on a connection while its request waits. */
const maxReadAhead = 64 * 1024;
/** How often timeouts are checked; they are as exact as this. */
const sweepEveryMs = 250;
const headEnd = Buffer.from('\r\n\r\n');
/** Bodies up to this are copied behind their head and written with it; larger ones go by reference. */
const copyBelowBytes = 8 * 1024;
/** The most bytes of whole answers kept for the current second (see LeanHttpServer.wholeAnswer). */
const maxWholeBytes = 64 * 1024 * 1024;

/** Answers the exchange, now or later; never throws (errors are answered like any other). */
export type LeanHandler = (exchange: HttpExchange) => void;

export class LeanHttpServer {
  readonly #handler: LeanHandler;
  readonly #limits: LeanHttpLimits;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  #sweeper: NodeJS.Timeout | undefined;
  /** Header lines as written, for headers objects answered with before (the origin's are constants). */
  readonly #headerLines = new WeakMap<AnswerHeaders, string>();
  /** Whole 200 answers made this second (their Date), by body; see wholeAnswer. */
  #wholes = new Map<Uint8Array, { headers: AnswerHeaders; whole: Buffer }>();
  #wholeBytes = 0;
  /** The Date header's value, renewed by the sweep (RFC 9110 §6.6.1: an origin server with a clock sends one). */
  date = new Date().toUTCString();
  now = performance.now();

  constructor(handler: LeanHandler, limits: Partial<LeanHttpLimits> = {}) {
    this.#handler = handler;
    this.#limits = { ...defaultLimits, ...limits };
    this.#server = createServer({ noDelay: true }, (socket) => {
      const connection = new Connection(socket, this, this.#handler, this.#limits);
      this.#connections.add(connection);
      socket.once('close', () => this.#connections.delete(connection));
    });
  }

  /** The underlying listener, for `listen`, `address` and its `error` event. */
  get server(): Server {
    return this.#server;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** `headers` as header lines, each ending in CRLF. */
  headerLines(headers: AnswerHeaders): string {
    let lines = this.#headerLines.get(headers);
    if (lines === undefined) {
      lines = '';
      for (const name in headers) lines += `${name}: ${headers[name]}\r\n`;
      if (Object.isFrozen(headers)) this.#headerLines.set(headers, lines);
    }
    return lines;
  }

  /**
   * The whole 200 answer to a keep-alive HTTP/1.1 GET, head and body in one buffer, made once a second per body:
   * an origin answers the same part, segment or playlist to every viewer, and writing one prepared buffer spares
   * each answer an allocation and a copy (a body larger than a pooled buffer) or a writev of two. Only answers with
   * frozen headers come here, and their bodies are taken as unchanging (the origin's are: rendered once, then
   * served). Undefined when this second's answers already hold `maxWholeBytes`.
   */
  wholeAnswer(headers: AnswerHeaders, body: Uint8Array): Buffer | undefined {
    const made = this.#wholes.get(body);
    if (made !== undefined && made.headers === headers) return made.whole;
    if (this.#wholeBytes + body.length > maxWholeBytes) return undefined;
    const text = this.answerHead(200, headers, body.length, '');
    const whole = Buffer.allocUnsafeSlow(text.length + body.length);
    whole.write(text, 0, 'latin1');
    whole.set(body, text.length);
    this.#wholes.set(body, { headers, whole });
    this.#wholeBytes += whole.length;
    return whole;
  }

  /** An answer's head as written, its empty line included; `connection`: the Connection header's value, if any. */
  answerHead(status: number, headers: AnswerHeaders, bodyLength: number, connection: string): string {
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${this.headerLines(headers)}`;
    if (status !== 204) text += `Content-Length: ${bodyLength}\r\n`;
    text += `Date: ${this.date}\r\n`;
    if (connection !== '') text += `Connection: ${connection}\r\n`;
    return `${text}\r\n`;
  }

  listen(options: { host: string; port: number; reusePort?: boolean }, listening: () => void): void {
    this.#sweeper ??= setInterval(() => {
      this.#sweep();
    }, sweepEveryMs).unref();
    this.#server.listen(options, listening);
  }

  /** Stops listening and drops every connection. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#server.close();
    for (const connection of this.#connections) connection.destroy();
  }

  #sweep(): void {
    this.now = performance.now();
    const date = new Date().toUTCString();
    if (date !== this.date) {
      this.date = date;
      this.#wholes = new Map();
      this.#wholeBytes = 0;
    }
    for (const connection of this.#connections) connection.check(this.now);
  }
}

/** A request on a connection: its exchange. */
class Exchange implements HttpExchange {
  readonly #connection: Connection;
  readonly #head: RequestHead;
  #listeners: (() => void)[] | undefined;
  gone = false;
  status = 0;
  bodyLength = 0;

  constructor(connection: Connection, head: RequestHead) {
    this.#connection = connection;
    this.#head = head;
  }

  get head(): RequestHead {
    return this.#head;
  }

  get method(): string {
    return this.#head.method;
  }

  get path(): string {
    return this.#head.path;
  }

  get query(): string {
    return this.#head.query;
  }

  get viewer(): string {
    return this.#connection.viewer(this.#head.userAgent);
  }

  get answered(): boolean {
    return this.status !== 0;
  }

  onGone(listener: () => void): () => void {
    const listeners = (this.#listeners ??= []);
    listeners.push(listener);
    return () => {
      const at = listeners.indexOf(listener);
      if (at !== -1) listeners.splice(at, 1);
    };
  }

  answer(status: number, headers: AnswerHeaders, body: string | Uint8Array): void {
    if (this.status !== 0 || this.gone) return;
    this.status = status;
    this.bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.#connection.send(this, headers, body);
  }

  /** The client went away: tells whoever listens, once. */
  leave(): void {
    if (this.status !== 0 || this.gone) return;
    this.gone = true;
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    for (const listener of listeners) listener();
  }
}

class Connection {
  readonly #socket: Socket;
  readonly #owner: LeanHttpServer;
  readonly #handler: LeanHandler;
  readonly #limits: LeanHttpLimits;
  readonly remoteAddress: string;
  /** Bytes read and not yet parsed. */
  #pending: Buffer | undefined;
  /** The request being answered (or whose answer is being written out), if any. */
  #current: Exchange | undefined;
  /** Inside #next(): an answer given now lets #next() go on rather than call it again. */
  #dispatching = false;
  /** No more requests are taken: a `Connection: close` answer or a refusal is on its way. */
  #closing = false;
  /** When the current head's first byte came, while one is incomplete. */
  #headSince: number | undefined;
  /** When the connection last fell idle between requests. */
  #idleSince: number;
  /** The answer bytes still queued at the last check, and since when they have not moved. */
  #queued = 0;
  #stalledSince: number | undefined;
  #viewer: string | undefined;
  #viewerAgent = '';

  constructor(socket: Socket, owner: LeanHttpServer, handler: LeanHandler, limits: LeanHttpLimits) {
    this.#socket = socket;
    this.#owner = owner;
    this.#handler = handler;
    this.#limits = limits;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.#idleSince = owner.now;
    socket.on('data', (chunk: Buffer) => {
      this.#read(chunk);
    });
    // The client half-closed: taken as gone, as node:http does. What is already written still goes out.
    socket.on('end', () => {
      this.#closing = true;
      this.#idleSince = this.#owner.now;
      this.#pending = undefined;
      this.#current?.leave();
    });
    socket.on('drain', () => {
      this.#next();
    });
    socket.on('error', () => {
      // A reset or broken pipe: 'close' follows, and the waiting request (if any) hears it there.
    });
    socket.on('close', () => {
      this.#current?.leave();
      this.#current = undefined;
      this.#pending = undefined;
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Address and user agent, as the audience counts a viewer: made once for the connection's user agent. */
  viewer(userAgent: string): string {
    if (userAgent !== this.#viewerAgent || this.#viewer === undefined) {
      this.#viewerAgent = userAgent;
      this.#viewer = `${this.remoteAddress} ${userAgent}`;
    }
    return this.#viewer;
  }

  #read(chunk: Buffer): void {
    if (this.#closing) return;
    this.#pending = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#headSince ??= this.#owner.now;
    if (this.#current !== undefined) {
      if (this.#pending.length > maxReadAhead) this.#socket.pause();
      return;
    }
    this.#next();
  }

  /** Takes the next complete request from what has been read, answers it, and goes on while answers are at once. */
  #next(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      while (!this.#closing && !this.#socket.destroyed) {
        // An answer still being written out to a client that does not read: wait for 'drain'.
        if (this.#socket.writableNeedDrain) return;
        if (this.#current !== undefined) {
          if (this.#current.status === 0) return;
          this.#current = undefined;
        }
        const head = this.#takeHead();
        if (head === undefined) return;
        const exchange = new Exchange(this, head);
        this.#current = exchange;
        if (!head.keepAlive) this.#closing = true;
        this.#handler(exchange);
        if (exchange.status === 0) return;
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /** The next complete head, parsed; undefined when none is complete yet (or a bad one was refused). */
  #takeHead(): RequestHead | undefined {
    const pending = this.#pending;
    if (pending === undefined) {
      this.#headSince = undefined;
      this.#idleSince = this.#owner.now;
      return undefined;
    }
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    let start = 0;
    while (pending[start] === 0x0d && pending[start + 1] === 0x0a) start += 2;
    const end = pending.indexOf(headEnd, start);
    if (end === -1) {
      if (pending.length - start > this.#limits.maxHeadBytes) this.#refuse(431, 'request head too large');
      else if (this.#socket.isPaused()) this.#socket.resume();
      return undefined;
    }
    if (end - start > this.#limits.maxHeadBytes) {
      this.#refuse(431, 'request head too large');
      return undefined;
    }
    const rest = end + 4;
    this.#pending = rest === pending.length ? undefined : pending.subarray(rest);
    this.#headSince = this.#pending === undefined ? undefined : this.#owner.now;
    if (this.#socket.isPaused() && (this.#pending?.length ?? 0) <= maxReadAhead) this.#socket.resume();
    const head = parseRequestHead(pending.toString('latin1', start, end));
    if (isHeadError(head)) {
      this.#refuse(head.status, head.reason);
      return undefined;
    }
    return head;
  }

  /** Answers a bad request and closes the connection after it; nothing more is read. */
  #refuse(status: number, reason: string): void {
    this.#closing = true;
    this.#idleSince = this.#owner.now;
    this.#pending = undefined;
    const body = `${JSON.stringify({ error: { code: 'InvalidParameter', message: reason } })}\n`;
    this.#socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nDate: ${this.#owner.date}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }

  /** Writes an exchange's answer: its head and body in one go. */
  send(exchange: Exchange, headers: AnswerHeaders, body: string | Uint8Array): void {
    const { head } = exchange;
    const whole =
      exchange.status === 200 &&
      head.keepAlive &&
      !head.http10 &&
      head.method === 'GET' &&
      typeof body !== 'string' &&
      Object.isFrozen(headers)
        ? this.#owner.wholeAnswer(headers, body)
        : undefined;
    if (whole !== undefined) {
      this.#socket.write(whole);
      this.#next();
      return;
    }
    const connection = !head.keepAlive ? 'close' : head.http10 ? 'keep-alive' : '';
    const text = this.#owner.answerHead(exchange.status, headers, exchange.bodyLength, connection);
    const socket = this.#socket;
    if (head.method === 'HEAD' || exchange.bodyLength === 0) socket.write(text, 'latin1');
    else if (typeof body === 'string') socket.write(text + body);
    else if (body.length <= copyBelowBytes) {
      // One buffer, one write(2): cheaper than a writev of two for a playlist or a part.
      const whole = Buffer.allocUnsafe(text.length + body.length);
      whole.write(text, 0, 'latin1');
      whole.set(body, text.length);
      socket.write(whole);
    } else {
      socket.cork();
      socket.write(text, 'latin1');
      socket.write(body);
      socket.uncork();
    }
    if (!head.keepAlive) {
      this.#idleSince = this.#owner.now;
      socket.end();
      return;
    }
    this.#next();
  }

  /**
   * Applies the timeouts: an answer the client does not read, a head too slow to come, an idle keep-alive, and a
   * connection closed on our side that the client keeps open.
   */
  check(now: number): void {
    const limits = this.#limits;
    const queued = this.#socket.writableLength;
    if (queued > 0) {
      if (queued !== this.#queued) this.#stalledSince = now;
      else if (now - (this.#stalledSince ?? now) > limits.stallTimeoutMs) this.#socket.destroy();
      this.#queued = queued;
      return;
    }
    this.#queued = 0;
    this.#stalledSince = undefined;
    if (this.#closing) {
      if (this.#current === undefined || this.#current.status !== 0)
        if (now - this.#idleSince > limits.keepAliveTimeoutMs) this.#socket.destroy();
      return;
    }
    if (this.#current !== undefined) return;
    if (this.#headSince !== undefined) {
      if (now - this.#headSince > limits.headTimeoutMs) this.#refuse(408, 'request head too slow');
    } else if (now - this.#idleSince > limits.keepAliveTimeoutMs) this.#socket.destroy();
  }
}
