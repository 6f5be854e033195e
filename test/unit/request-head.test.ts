import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isHeadError, parseRequestHead, type RequestHead } from '../../src/http/request-head.ts';

/** Lines joined by CRLF, as the server hands them over (without the empty line that ends a head). */
const head = (...lines: string[]): string => lines.join('\r\n');

function parsed(text: string): RequestHead {
  const result = parseRequestHead(text);
  assert.ok(!isHeadError(result), `refused: ${JSON.stringify(result)}`);
  return result;
}

function refused(text: string): number {
  const result = parseRequestHead(text);
  assert.ok(isHeadError(result), `accepted: ${JSON.stringify(result)}`);
  return result.status;
}

describe('parseRequestHead: what players send', () => {
  test('hls.js in Chromium: a blocking playlist request, its query and user agent, kept alive', () => {
    const result = parsed(
      head(
        'GET /hls/0123/abcd/v0/index.m3u8?_HLS_msn=12&_HLS_part=3 HTTP/1.1',
        'Host: 127.0.0.1:5000',
        'Connection: keep-alive',
        'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36',
        'Accept: */*',
        'Origin: http://127.0.0.1:5000',
        'Sec-Fetch-Mode: cors',
        'Accept-Encoding: gzip, deflate, br, zstd',
      ),
    );
    assert.deepEqual(result, {
      method: 'GET',
      path: '/hls/0123/abcd/v0/index.m3u8',
      query: '_HLS_msn=12&_HLS_part=3',
      http10: false,
      keepAlive: true,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36',
    });
  });

  test('ffmpeg: HTTP/1.1 with Connection: close is not kept alive', () => {
    const result = parsed(
      head(
        'GET /hls/x/index.m3u8 HTTP/1.1',
        'User-Agent: Lavf/59.27.100',
        'Accept: */*',
        'Range: bytes=0-',
        'Connection: close',
        'Host: 127.0.0.1:5000',
        'Icy-MetaData: 1',
      ),
    );
    assert.equal(result.keepAlive, false);
    assert.equal(result.userAgent, 'Lavf/59.27.100');
  });

  test('Connection options are read as a case-insensitive list; several Connection fields add up', () => {
    assert.equal(parsed(head('GET / HTTP/1.1', 'Host: a', 'Connection: Upgrade, CLOSE')).keepAlive, false);
    assert.equal(
      parsed(head('GET / HTTP/1.1', 'Host: a', 'Connection: te', 'connection: close')).keepAlive,
      false,
    );
    assert.equal(parsed(head('GET / HTTP/1.1', 'Host: a', 'Connection: closed')).keepAlive, true);
  });

  test('HTTP/1.0 closes unless it asks for keep-alive, and needs no Host', () => {
    assert.deepEqual(parsed('GET /a HTTP/1.0'), {
      method: 'GET',
      path: '/a',
      query: '',
      http10: true,
      keepAlive: false,
      userAgent: '',
    });
    assert.equal(parsed(head('GET /a HTTP/1.0', 'Connection: Keep-Alive')).keepAlive, true);
  });

  test('the path is kept exactly as sent: no decoding, no dot-segment removal; only the first ? splits', () => {
    const result = parsed(head('GET /hls/../%2e%2e/x?a=1?b=2 HTTP/1.1', 'Host: a'));
    assert.equal(result.path, '/hls/../%2e%2e/x');
    assert.equal(result.query, 'a=1?b=2');
  });

  test('absolute form (RFC 9112 §3.2.2) is reduced to its path and query; other forms stay whole', () => {
    const absolute = parsed(
      head('GET http://example.com:5001/hls/x/index.m3u8?_HLS_skip=YES HTTP/1.1', 'Host: a'),
    );
    assert.equal(absolute.path, '/hls/x/index.m3u8');
    assert.equal(absolute.query, '_HLS_skip=YES');
    assert.equal(parsed(head('GET HTTP://example.com HTTP/1.1', 'Host: a')).path, '/');
    assert.equal(parsed(head('OPTIONS * HTTP/1.1', 'Host: a')).path, '*');
    assert.equal(parsed(head('CONNECT example.com:443 HTTP/1.1', 'Host: a')).path, 'example.com:443');
  });

  test('header values lose the whitespace around them; an empty value is allowed; names are case-insensitive', () => {
    const result = parsed(
      head('HEAD / HTTP/1.1', 'host:a', 'user-agent: \t VLC/3.0.18 LibVLC/3.0.18 \t', 'X-Empty:'),
    );
    assert.equal(result.method, 'HEAD');
    assert.equal(result.userAgent, 'VLC/3.0.18 LibVLC/3.0.18');
  });

  test('Content-Length: 0 is no body and is accepted', () => {
    assert.equal(parsed(head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0')).method, 'GET');
  });
});

describe('parseRequestHead: refusals', () => {
  const cases: [string, string, number][] = [
    ['no Host on HTTP/1.1 (RFC 9112 §3.2)', head('GET / HTTP/1.1'), 400],
    ['two Hosts', head('GET / HTTP/1.1', 'Host: a', 'Host: b'), 400],
    ['a body by length', head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 5'), 413],
    ['a body by Transfer-Encoding', head('GET / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'), 413],
    [
      'Transfer-Encoding with Content-Length',
      head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0', 'transfer-encoding: x'),
      413,
    ],
    [
      'two Content-Lengths, even equal',
      head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0', 'Content-Length: 0'),
      400,
    ],
    ['a Content-Length list', head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0, 0'), 400],
    ['a signed Content-Length', head('GET / HTTP/1.1', 'Host: a', 'Content-Length: +0'), 400],
    [
      'a Content-Length past 15 digits',
      head('GET / HTTP/1.1', 'Host: a', `Content-Length: ${'0'.repeat(16)}`),
      400,
    ],
    ['whitespace before the colon (RFC 9112 §5.1)', head('GET / HTTP/1.1', 'Host : a'), 400],
    ['obsolete line folding (RFC 9112 §5.2)', head('GET / HTTP/1.1', 'Host: a', 'X-A: b', ' c'), 400],
    ['a bare LF inside the head', head('GET / HTTP/1.1', 'Host: a\nX-Smuggled: b'), 400],
    ['a bare CR inside a value', head('GET / HTTP/1.1', 'Host: a\rb'), 400],
    ['a NUL in a value', head('GET / HTTP/1.1', 'Host: a\0'), 400],
    ['a header line without a colon', head('GET / HTTP/1.1', 'Host: a', 'junk'), 400],
    ['an empty header name', head('GET / HTTP/1.1', 'Host: a', ': b'), 400],
    ['two spaces in the request line', 'GET  / HTTP/1.1', 400],
    ['a trailing space in the request line', 'GET / HTTP/1.1 ', 400],
    ['a lower-case protocol name', 'GET / http/1.1', 400],
    ['HTTP/0.9 (no version)', 'GET /', 400],
    ['a non-ASCII byte in the target', 'GET /\xff HTTP/1.0', 400],
    ['a control byte in the target', 'GET /\x01 HTTP/1.0', 400],
    ['a method that is not a token', 'G(T / HTTP/1.0', 400],
    ['an empty head', '', 400],
    ['TLS sent to a plain port', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 400],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0', 505],
    ['HTTP/1.2', 'GET / HTTP/1.2', 505],
    [
      '101 header lines',
      head('GET / HTTP/1.1', 'Host: a', ...Array.from({ length: 100 }, (_, i) => `X-${i}: ${i}`)),
      431,
    ],
  ];
  for (const [name, text, status] of cases) {
    test(`${name}: ${status}`, () => {
      assert.equal(refused(text), status);
    });
  }

  test('a refusal says why', () => {
    const result = parseRequestHead(head('GET / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'));
    assert.ok(isHeadError(result));
    assert.equal(result.reason, 'a request body is not accepted here');
  });
});
