/**
 * `POST /` with `X-Sora-Target: <action>`: the ImageFlux/Sora-style API. Checks run in a fixed order,
 * each with its own status: method (405), token (401), action (400), content type (415), size (413),
 * JSON (400), then the action's own schema (400) and lookups (404).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChannelRegistry } from '../channel/channel-registry.ts';
import type { Sfu } from '../sfu/sfu.ts';
import { invalidParameter, NagareError, toHttpError } from '../errors.ts';
import { readBody } from '../http/body.ts';
import { publicUrlsFor, type HlsListener } from '../http/public-urls.ts';
import { sendJson } from '../http/respond.ts';
import { actionNames, actions, type Action, type ChannelMedia } from './actions.ts';
import type { Admission } from '../channel/admission.ts';
import { monotonicMs } from '../lib/clock.ts';
import { TokenBucket } from '../lib/rate-limiter.ts';
import type { TokenAuthenticator } from './token-authenticator.ts';

export interface ApiOptions {
  publicUrl: string | undefined;
  /** Host used for URLs when the request's Host header is missing or implausible. */
  fallbackHost: string;
  /** Where HLS is served when it has a port of its own: playlist URLs point there. */
  hlsListener?: () => HlsListener | undefined;
  bodyLimitBytes: number;
  /** A failed authentication is answered only after this delay, to slow down guessing. */
  authFailureDelayMs: number;
  /** Requests per second for each token, twice that at once; more are answered 429. */
  requestsPerSecond: number;
}

export interface ApiDeps {
  registry: ChannelRegistry;
  sfu: Sfu;
  media: ChannelMedia;
  admission: Admission;
  authenticator: TokenAuthenticator;
  log: Logger;
  options: ApiOptions;
}

function isJsonContentType(header: string | undefined): boolean {
  const mediaType = (header ?? '').split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

function lookupAction(target: string | string[] | undefined): Action {
  const name = typeof target === 'string' ? target.trim() : '';
  const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (action === undefined) {
    const said = name === '' ? 'is missing' : `names an unknown action "${name.slice(0, 100)}"`;
    throw invalidParameter(`X-Sora-Target ${said}; known actions: ${actionNames().join(', ')}`);
  }
  return action;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    throw invalidParameter('the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidParameter(`the request body is not valid JSON (${(err as Error).message})`);
  }
}

export class ApiHandler {
  readonly #deps: ApiDeps;
  /** One bucket per token (tokens are configured, so this map is as small as their list). */
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(deps: ApiDeps) {
    this.#deps = deps;
  }

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    try {
      const answer = await this.#run(req);
      sendJson(res, 200, answer);
    } catch (err) {
      const { status, body, cause } = toHttpError(err, requestId);
      if (cause !== undefined) this.#deps.log.error({ err: cause, requestId }, 'API request failed');
      const headers: Record<string, string> = {};
      if (status === 405) headers['Allow'] = 'POST';
      if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
      if (!req.readableEnded) {
        // The body was not read (refused early): do not keep the connection for whatever else the client sends.
        headers['Connection'] = 'close';
        req.resume();
      }
      sendJson(res, status, body, headers);
    }
  }

  #bucketOf(owner: string): TokenBucket {
    let bucket = this.#buckets.get(owner);
    if (bucket === undefined) {
      const rate = this.#deps.options.requestsPerSecond;
      bucket = new TokenBucket(rate, Math.max(1, 2 * rate));
      this.#buckets.set(owner, bucket);
    }
    return bucket;
  }

  async #run(req: IncomingMessage): Promise<unknown> {
    const { registry, sfu, media, admission, authenticator, options } = this.#deps;
    if (req.method !== 'POST') {
      throw new NagareError(
        'MethodNotAllowed',
        `${req.method ?? 'this method'} is not allowed here; use POST`,
      );
    }
    const owner = authenticator.authenticate(req.headers.authorization);
    if (owner === undefined) {
      await sleep(options.authFailureDelayMs);
      throw new NagareError('Unauthorized', 'a valid Bearer token is required');
    }
    if (!this.#bucketOf(owner).take(monotonicMs())) {
      throw new NagareError(
        'TooManyRequests',
        `more than ${options.requestsPerSecond} requests a second with this token; slow down`,
      );
    }
    const action = lookupAction(req.headers['x-sora-target']);
    if (!isJsonContentType(req.headers['content-type'])) {
      throw new NagareError('UnsupportedMediaType', 'Content-Type must be application/json');
    }
    const body = parseJson(await readBody(req, options.bodyLimitBytes));
    const urls = publicUrlsFor(options.publicUrl, req, options.fallbackHost, options.hlsListener?.());
    return action({ owner, body, urls, registry, sfu, media, admission });
  }
}
