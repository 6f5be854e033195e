/** The URLs the API hands out: from --public-url or the request's Host, and the HLS port's when it has one. */
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { test } from 'node:test';
import { playlistUrl, publicUrlsFor, soraUrl } from '../../src/http/public-urls.ts';

function requestWithHost(host: string | undefined): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = host === undefined ? {} : { host };
  return req;
}
const id = '0123456789abcdef0123456789abcdef';

test('without an HLS port, playlists are on the host and port the API was reached by', () => {
  const urls = publicUrlsFor(undefined, requestWithHost('live.example.com:5000'), 'localhost:5000');
  assert.equal(soraUrl(urls), 'ws://live.example.com:5000/signaling');
  assert.equal(playlistUrl(urls, id), `http://live.example.com:5000/hls/${id}/index.m3u8`);
});

test('with an HLS port, playlists are on the same host at that port; IPv6 hosts keep their brackets', () => {
  const listener = { port: 5001, publicUrl: undefined };
  const cases: [string | undefined, string][] = [
    ['live.example.com:5000', 'http://live.example.com:5001'],
    ['live.example.com', 'http://live.example.com:5001'],
    ['[::1]:5000', 'http://[::1]:5001'],
    // An implausible Host falls back to the configured host.
    ['bad host/with slash', 'http://localhost:5001'],
    [undefined, 'http://localhost:5001'],
  ];
  for (const [host, base] of cases) {
    const urls = publicUrlsFor(undefined, requestWithHost(host), 'localhost:5000', listener);
    assert.equal(playlistUrl(urls, id), `${base}/hls/${id}/index.m3u8`, `Host: ${host}`);
    assert.equal(urls.http.endsWith(':5001'), false, 'the API and signaling stay on the main port');
  }
});

test('--hls-public-url wins over the derived base; --public-url still gives the signaling URL', () => {
  const urls = publicUrlsFor('https://live.example.com', requestWithHost('x:1'), 'localhost:5000', {
    port: 5001,
    publicUrl: 'https://cdn.example.com/live/',
  });
  assert.equal(soraUrl(urls), 'wss://live.example.com/signaling');
  assert.equal(playlistUrl(urls, id), `https://cdn.example.com/live/hls/${id}/index.m3u8`);
  const derived = publicUrlsFor('https://live.example.com/base', requestWithHost('x:1'), 'localhost:5000', {
    port: 5001,
    publicUrl: undefined,
  });
  assert.equal(playlistUrl(derived, id), `http://live.example.com:5001/hls/${id}/index.m3u8`);
});
