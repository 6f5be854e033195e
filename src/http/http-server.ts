/**
 * The main port's HTTP server, with the limits every listener of Nagare has (the HLS port's own server,
 * lean-http-server.ts, keeps the same ones): a client has 10 s to send its headers and 30 s for the whole request;
 * an idle keep-alive connection is closed after 5 s; a client that stops reading mid-answer is let go after a
 * minute of no progress (a blocking playlist request waits at most 3 target durations, 30 s; WebSockets clear this
 * timeout when they upgrade). A request that is not HTTP gets a bare 400 and the connection is closed.
 */
import { createServer, type Server } from 'node:http';

export function createHttpServer(): Server {
  const http = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 });
  http.timeout = 60_000;
  http.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return http;
}
