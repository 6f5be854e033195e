/**
 * A minimal signaling client for integration tests: opens /signaling, sends `connect`, and reports the server's
 * offer or its close (code and reason). No WebRTC: enough for admission, auth and bad-input tests.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket, { type RawData } from 'ws';
import type { TestServer } from './server.ts';

export type Json = Record<string, unknown>;
export type Outcome = { kind: 'offer'; offer: Json } | { kind: 'closed'; code: number; reason: string };

/** A WebSocket message as text. */
export const rawText = (data: RawData): string =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8');

/** A sora-js-sdk-like `connect`; `channelId` may be any value, for bad-input tests. */
export const connectMessage = (channelId: unknown, overrides: Json = {}): Json => ({
  type: 'connect',
  role: 'sendonly',
  channel_id: channelId,
  audio: true,
  video: true,
  sora_client: 'test',
  metadata: null,
  ...overrides,
});

/** Opens /signaling, sends `connect`, and reports the offer or the close. */
export class Connection {
  readonly ws: WebSocket;
  readonly outcome: Promise<Outcome>;
  readonly #closed: Promise<void>;

  /** `origin`: the Origin header a browser page would send. */
  constructor(port: number, connect: Json, origin?: string) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/signaling`, origin === undefined ? {} : { origin });
    this.ws.on('error', () => undefined);
    this.#closed = once(this.ws, 'close').then(() => undefined);
    this.outcome = new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('neither an offer nor a close within 5 s'));
      }, 5000);
      this.ws.on('open', () => {
        this.ws.send(JSON.stringify(connect));
      });
      this.ws.on('message', (data) => {
        const message = JSON.parse(rawText(data)) as Json;
        if (message['type'] !== 'offer') return;
        clearTimeout(timer);
        resolve({ kind: 'offer', offer: message });
      });
      this.ws.on('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ kind: 'closed', code, reason: reason.toString('utf8') });
      });
    });
  }

  async end(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    await this.#closed;
  }
}

/** Connects once and ends the socket whatever happened: the offer or the close. */
export async function connectOnce(server: TestServer, connect: Json): Promise<Outcome> {
  const connection = new Connection(server.server.port, connect);
  try {
    return await connection.outcome;
  } finally {
    await connection.end();
  }
}

export function expectOffer(outcome: Outcome): Json {
  assert.equal(outcome.kind, 'offer', JSON.stringify(outcome));
  return (outcome as { offer: Json }).offer;
}
