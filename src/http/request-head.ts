/**
 * The head of an HTTP/1.x request (RFC 9112 §2–§9), for the HLS port's own server (lean-http-server.ts). Only what
 * a GET-only origin needs is kept: the method, the target split into path and query, whether the connection stays
 * open after the answer, and the User-Agent.
 *
 * Strict where leniency has let one request be read as two (request smuggling, RFC 9112 §11.2): a bare CR or LF,
 * whitespace before a header's colon, obsolete line folding, Transfer-Encoding, and a Content-Length that is not
 * one plain number are refused. The origin takes no bodies, so any body is refused, and the connection is closed
 * after every refusal: nothing after a bad head is read as a request.
 */

export interface RequestHead {
  readonly method: string;
  /** The path exactly as sent (no normalisation), or `*`. */
  readonly path: string;
  /** What follows the first `?` of the target, without it; empty when there is none. */
  readonly query: string;
  /** HTTP/1.0: keep-alive only when asked for, and then said so in the answer. */
  readonly http10: boolean;
  /** Whether the connection may carry another request after this one's answer. */
  readonly keepAlive: boolean;
  readonly userAgent: string;
}

export interface HeadError {
  /** 400; 413 for a body; 431 for too many header lines; 505 for an HTTP version other than 1.0 and 1.1. */
  readonly status: number;
  readonly reason: string;
}

/** Header lines past this are refused: browsers send a dozen. */
const maxHeaderLines = 100;

const requestLinePattern = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
/** field-name ":" OWS field-value OWS; a value holds visible characters, spaces, tabs and obs-text. */
const fieldPattern = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;

/**
 * Parses a request's head: the request line and header lines, as latin1 text without the empty line that ends
 * them (leading empty lines, which RFC 9112 §2.2 asks a server to ignore, already skipped). Lines end in CRLF.
 */
export function parseRequestHead(text: string): RequestHead | HeadError {
  const lines = text.split('\r\n');
  if (lines.length > maxHeaderLines + 1) return { status: 431, reason: 'too many header lines' };
  const requestLine = requestLinePattern.exec(lines[0] ?? '');
  if (requestLine === null) return { status: 400, reason: 'malformed request line' };
  const [, method = '', target = '', major, minor] = requestLine;
  if (major !== '1' || (minor !== '0' && minor !== '1'))
    return { status: 505, reason: `HTTP/${major}.${minor} is not supported; use HTTP/1.1` };
  const http10 = minor === '0';

  let hosts = 0;
  let connection = '';
  let contentLength: string | undefined;
  let userAgent = '';
  for (let i = 1; i < lines.length; i++) {
    const field = fieldPattern.exec(lines[i] ?? '');
    // A bare CR or LF inside a line, obsolete folding (a line starting with whitespace) and whitespace before the
    // colon all fail the pattern.
    if (field === null) return { status: 400, reason: 'malformed header line' };
    const [, name = '', value = ''] = field;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts += 1;
        break;
      case 10:
        if (name.toLowerCase() === 'user-agent') userAgent = value;
        else if (name.toLowerCase() === 'connection') connection += `,${value.toLowerCase()}`;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          // Several Content-Length fields (or a list) are refused even when they agree.
          if (contentLength !== undefined || !/^\d{1,15}$/.test(value))
            return { status: 400, reason: 'malformed Content-Length' };
          contentLength = value;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding')
          return { status: 413, reason: 'a request body is not accepted here' };
        break;
    }
  }
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without a Host or with more than one.
  if (hosts > 1 || (hosts === 0 && !http10))
    return { status: 400, reason: 'exactly one Host header is required' };
  if (contentLength !== undefined && Number(contentLength) !== 0)
    return { status: 413, reason: 'a request body is not accepted here' };

  const options = connection === '' ? [] : connection.split(',').map((option) => option.trim());
  const keepAlive = http10 ? options.includes('keep-alive') : !options.includes('close');
  const { path, query } = splitTarget(target);
  return { method, path, query, http10, keepAlive, userAgent };
}

/**
 * Origin form (`/path?query`) as sent; absolute form (`http://host/path?query`, which RFC 9112 §3.2.2 says a server
 * MUST accept) reduced to its path and query; anything else is kept whole as the path, to be found nowhere.
 */
function splitTarget(target: string): { path: string; query: string } {
  let start = 0;
  if (!target.startsWith('/')) {
    const scheme = /^https?:\/\/[^/?#]*/i.exec(target);
    if (scheme !== null) start = scheme[0].length;
  }
  const queryAt = target.indexOf('?', start);
  const path = target.slice(start, queryAt === -1 ? undefined : queryAt);
  return { path: path === '' ? '/' : path, query: queryAt === -1 ? '' : target.slice(queryAt + 1) };
}

export function isHeadError(head: RequestHead | HeadError): head is HeadError {
  return 'status' in head;
}
