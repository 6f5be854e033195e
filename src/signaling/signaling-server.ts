/**
 * The `/signaling` WebSocket endpoint. Frames over 256 KiB are refused by the WebSocket layer (close 1009).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { requestPath } from '../http/request-path.ts';
import type { Admission } from '../channel/admission.ts';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import type { Sfu } from '../sfu/sfu.ts';
import { closeCodes } from './close-codes.ts';
import { SignalingSession, type SignalingCounters, type SignalingOptions } from './signaling-session.ts';

export const maxSignalingMessageBytes = 256 * 1024;

export interface SignalingServerDeps {
  registry: ChannelRegistry;
  sfu: Sfu;
  /** Limits on connections, publishers and encoding. */
  admission?: Admission | undefined;
  /** Web origins allowed to open /signaling; empty: any. */
  allowedOrigins?: readonly string[] | undefined;
  log: Logger;
  options: SignalingOptions;
}

export class SignalingServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: maxSignalingMessageBytes });
  readonly #sessions = new Set<SignalingSession>();
  readonly #deps: SignalingServerDeps;
  readonly counters: SignalingCounters = {
    sessions: 0,
    badMessages: 0,
    unknownMessages: 0,
    droppedCandidates: 0,
    floods: 0,
    refusedOrigins: 0,
  };

  constructor(deps: SignalingServerDeps) {
    this.#deps = deps;
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Takes an HTTP upgrade for /signaling; refuses any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (requestPath(req) !== '/signaling') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Browsers always say which page opens the socket; a page of another site may not use a viewer's session.
    const allowed = this.#deps.allowedOrigins ?? [];
    const origin = req.headers.origin;
    if (allowed.length > 0 && origin !== undefined && !allowed.includes(origin)) {
      this.counters.refusedOrigins += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new SignalingSession(ws, { ...this.#deps, counters: this.counters });
      this.counters.sessions += 1;
      this.#sessions.add(session);
      void session.closed.then(() => this.#sessions.delete(session));
      session.start();
    });
  }

  /** Closes every session with 1000 (an orderly end the SDK reports as SHUTDOWN) and waits for them. */
  async close(reason = 'SHUTDOWN'): Promise<void> {
    const sessions = [...this.#sessions];
    for (const session of sessions) session.close(closeCodes.normal, reason);
    await Promise.all(sessions.map((session) => session.closed));
    this.#wss.close();
  }
}
