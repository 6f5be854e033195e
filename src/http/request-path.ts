import type { IncomingMessage } from 'node:http';

/**
 * The path of a request exactly as sent, without its query. Deliberately not parsed as a URL: `new URL('//x', base)`
 * would read `x` as a host, and normalisation would let `/a/../b` stand for `/b`. Routes match this string exactly.
 */
export function requestPath(req: IncomingMessage): string {
  const target = req.url ?? '/';
  const queryAt = target.indexOf('?');
  return queryAt === -1 ? target : target.slice(0, queryAt);
}
