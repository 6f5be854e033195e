/**
 * One request and its answer, as the HLS origin sees them, whichever server carried them: node:http on the main
 * port (nodeExchange below) or the HLS port's own server (lean-http-server.ts). Every answer of the origin is whole
 * bytes known at once, so an answer is one call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type AnswerHeaders = Readonly<Record<string, string | number>>;

export interface HttpExchange {
  readonly method: string;
  /** The path exactly as sent, without its query. */
  readonly path: string;
  /** What follows the first `?`, without it. */
  readonly query: string;
  /** Who asked: address and user agent, as the audience counts viewers. */
  readonly viewer: string;
  /** The client went away before it had its answer. */
  readonly gone: boolean;
  /** Whether `answer()` was called while the client was there. */
  readonly answered: boolean;
  /** The status and body length of the answer, once answered. */
  readonly status: number;
  readonly bodyLength: number;
  /** Calls `listener` once if the client goes before its answer; the function returned stops listening. */
  onGone(listener: () => void): () => void;
  /**
   * Sends status, headers (Content-Length is added, except to a 204, which RFC 9110 §8.6 forbids it) and body, all
   * of it; a HEAD request gets the headers alone. Ignored once answered or gone.
   */
  answer(status: number, headers: AnswerHeaders, body: string | Uint8Array): void;
}

/** Errors in the API's JSON shape, like every other error of the server. */
export function answerJson(
  exchange: HttpExchange,
  status: number,
  body: unknown,
  headers: AnswerHeaders = {},
): void {
  exchange.answer(
    status,
    { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    `${JSON.stringify(body)}\n`,
  );
}

/** A request of node:http as an exchange. */
export function nodeExchange(req: IncomingMessage, res: ServerResponse): HttpExchange {
  const target = req.url ?? '/';
  const queryAt = target.indexOf('?');
  let status = 0;
  let bodyLength = 0;
  return {
    method: req.method ?? '',
    path: queryAt === -1 ? target : target.slice(0, queryAt),
    query: queryAt === -1 ? '' : target.slice(queryAt + 1),
    get viewer() {
      return `${req.socket.remoteAddress ?? ''} ${req.headers['user-agent'] ?? ''}`;
    },
    get gone() {
      return res.destroyed && !res.writableFinished;
    },
    get answered() {
      return status !== 0;
    },
    get status() {
      return status;
    },
    get bodyLength() {
      return bodyLength;
    },
    onGone(listener) {
      const onClose = (): void => {
        if (!res.writableFinished) listener();
      };
      res.once('close', onClose);
      return () => res.off('close', onClose);
    },
    answer(answerStatus, headers, body) {
      if (status !== 0 || res.writableEnded || res.destroyed) return;
      status = answerStatus;
      bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      // Headers given to writeHead() alone, none set ahead: Node's fast path.
      res.writeHead(
        answerStatus,
        answerStatus === 204 ? headers : { ...headers, 'Content-Length': bodyLength },
      );
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
