/**
 * The static HTTP server the browser loads the Sora test client from: the unmodified npm `sora-js-sdk` bundle
 * plus our pages, and hls.js for the player page. Only these paths exist; everything else is 404 so a typo in the page fails loudly.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface PageServer {
  /** http://127.0.0.1:<port> (no trailing slash) */
  readonly url: string;
  close(): Promise<void>;
}

const javascript = 'text/javascript; charset=utf-8';
const html = 'text/html; charset=utf-8';

/** URL path → file and Content-Type. sora-js-sdk is ES module only; the page imports it as `/sora.js`. */
function routes(): ReadonlyMap<string, { file: string; contentType: string }> {
  const page = (name: string) => fileURLToPath(new URL(`./pages/${name}`, import.meta.url));
  return new Map([
    ['/sora.js', { file: fileURLToPath(import.meta.resolve('sora-js-sdk')), contentType: javascript }],
    ['/sora-client.html', { file: page('sora-client.html'), contentType: html }],
    ['/sora-client.js', { file: page('sora-client.js'), contentType: javascript }],
    ['/clock-pattern.js', { file: page('clock-pattern.js'), contentType: javascript }],
    ['/clock-reader.js', { file: page('clock-reader.js'), contentType: javascript }],
    [
      '/hls.js',
      {
        file: fileURLToPath(new URL('../../../node_modules/hls.js/dist/hls.min.js', import.meta.url)),
        contentType: javascript,
      },
    ],
    ['/hls-player.html', { file: page('hls-player.html'), contentType: html }],
  ]);
}

export async function startPageServer(): Promise<PageServer> {
  const table = routes();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = table.get(path);
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    readFile(route.file).then(
      (body) => {
        res.writeHead(200, {
          'content-type': route.contentType,
          'content-length': body.length,
          'cache-control': 'no-store',
          // bench/glass-to-glass.ts loads clock-reader.js (a module) into Nagare's own /watch page too.
          'access-control-allow-origin': '*',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        // Chromium keeps connections alive; without this close() waits for its idle timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
