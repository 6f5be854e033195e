/**
 * Test harness: a real NagareServer on port 0 in this process, or the real CLI (`src/main.ts`) as a child
 * process. Each gets its own temporary data directory, removed on close.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { defaultConfig, type Config } from '../../src/config.ts';
import { NagareServer, type NagareServerOptions } from '../../src/server.ts';

export const testToken = 'test-token-0123456789abcdef';
export const otherToken = 'other-token-0123456789abcdef';
export const mainScript = new URL('../../src/main.ts', import.meta.url).pathname;

export async function makeTempDir(prefix = 'nagare-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface TestServer {
  server: NagareServer;
  /** http://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(
  overrides: Partial<Config> = {},
  options: NagareServerOptions = {},
): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? (await makeTempDir());
  const config: Config = {
    ...defaultConfig,
    port: 0,
    host: '127.0.0.1',
    dataDir,
    apiTokens: [testToken, otherToken],
    logLevel: 'silent',
    // Tests call the API as fast as they can; the rate limit has its own tests.
    apiRequestsPerSecond: 100_000,
    // Webhook receivers of the tests listen on 127.0.0.1; the refusal has its own tests.
    webhookPrivateAddresses: 'allow',
    ...overrides,
  };
  // NAGARE_TEST_LOG=info (or debug) shows the server's log while debugging a test.
  const logLevel = process.env['NAGARE_TEST_LOG'] ?? 'silent';
  const server = new NagareServer(config, pino({ level: logLevel }), { authFailureDelayMs: 10, ...options });
  await server.start();
  const url = `http://127.0.0.1:${server.port}`;
  return {
    server,
    url,
    dataDir,
    close: async () => {
      await server.close('test-finished');
      if (overrides.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: unknown;
}

/**
 * One API call as a client would make it. `body` is JSON-encoded unless it is already a string.
 * Note: passing `undefined` as `token` still sends testToken (the default applies); use rawRequest to send
 * no Authorization header at all.
 */
export async function callApi(
  url: string,
  target: string,
  body: unknown,
  token: string | undefined = testToken,
  extraHeaders: Record<string, string> = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Sora-Target': target,
    ...extraHeaders,
  };
  headers['Authorization'] = `Bearer ${token}`;
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? undefined : JSON.parse(text),
  };
}

/** CreateChannel that must succeed (asserted): the new channel_id. */
export async function createChannel(
  url: string,
  body: unknown = { hls: [validVariant()] },
  token: string = testToken,
): Promise<string> {
  const answer = await callApi(url, 'ImageFlux_20180905.CreateChannel', body, token);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return (answer.json as { channel_id: string }).channel_id;
}

/** ListChannelIDs that must succeed (asserted): the caller's channel ids. */
export async function listChannelIds(url: string, token: string = testToken): Promise<string[]> {
  const answer = await callApi(url, 'ImageFlux_20200729.ListChannelIDs', {}, token);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return (answer.json as { channel_ids: string[] }).channel_ids;
}

export const validVariant = (): Record<string, unknown> => ({
  video: { width: 640, height: 480, fps: 30, bps: 1_000_000 },
  audio: { bps: 64_000 },
});

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed on stdout so far. */
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/** Runs the real CLI. Resolves once it logs that it listens; rejects if it exits first. */
export async function spawnServer(args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [mainScript, '--port', '0', '--host', '127.0.0.1', ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NAGARE_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve(signal ?? code);
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      out += `${line}\n`;
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'listening' && entry.port !== undefined) resolve(entry.port);
    });
    void exited.then((code) => {
      reject(new Error(`server exited (${String(code)}) before listening: ${err}`));
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** Runs the CLI to completion (for --help, bad config): its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [mainScript, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => {
      resolve(exitCode);
    }),
  );
  return { code, stdout, stderr };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface RawRequest {
  method?: string;
  /** Sent exactly as given: no normalisation of `..` or `//`, unlike fetch. */
  path?: string;
  headers?: Record<string, string>;
  /** One buffer is sent with Content-Length; an array is written chunk by chunk, chunked, without it. */
  body?: Buffer | string | readonly (Buffer | string)[] | undefined;
}

/** One HTTP request through node:http, for what fetch cannot send: raw paths, no Content-Type, chunked bodies. */
export async function rawRequest(url: string, options: RawRequest = {}): Promise<RawAnswer> {
  const { method = 'POST', path = '/', headers = {}, body } = options;
  const target = new URL(url);
  const allHeaders: Record<string, string> = { ...headers };
  if (body !== undefined && !Array.isArray(body)) {
    allHeaders['Content-Length'] = String(Buffer.byteLength(body as Buffer | string));
  }
  return new Promise<RawAnswer>((resolve, reject) => {
    let answered = false;
    const req = request(
      { host: target.hostname, port: target.port, method, path, headers: allHeaders, agent: false },
      (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        });
        res.on('error', reject);
      },
    );
    // A server that refuses a body early may close while the rest is still being written; once the
    // answer has arrived that is expected and not a failure of the request.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (Array.isArray(body)) for (const chunk of body as readonly (Buffer | string)[]) req.write(chunk);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

export interface JsonAnswer {
  status: number;
  json: unknown;
}

/** A raw answer with its body parsed as JSON, shaped like callApi's. */
export const parseRaw = (answer: RawAnswer): JsonAnswer & RawAnswer => ({
  ...answer,
  json: answer.text === '' ? undefined : JSON.parse(answer.text),
});

/** Asserts status, code and message, and that the body is exactly `{"error":{"code","message"}}`. */
export function assertApiError(
  answer: JsonAnswer,
  status: number,
  code: string,
  message: string | RegExp,
): void {
  const shown = JSON.stringify(answer.json);
  assert.equal(answer.status, status, shown);
  assert.ok(typeof answer.json === 'object' && answer.json !== null && !Array.isArray(answer.json), shown);
  const body = answer.json as { error: { code: unknown; message: unknown } };
  assert.deepEqual(Object.keys(body), ['error'], shown);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], shown);
  assert.equal(body.error.code, code, shown);
  assert.equal(typeof body.error.message, 'string', shown);
  if (typeof message === 'string') assert.equal(body.error.message, message);
  else assert.match(body.error.message as string, message);
}

/** `name{labels} value` lines of a Prometheus text exposition → value, keyed by `name{labels}` (or `name`). */
export function metricSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** GET /metrics with the test token; throws unless it answers 200. */
export async function scrapeMetrics(serverUrl: string): Promise<Map<string, number>> {
  const answer = await fetch(`${serverUrl}/metrics`, { headers: { Authorization: `Bearer ${testToken}` } });
  if (answer.status !== 200) throw new Error(`GET /metrics: HTTP ${answer.status}`);
  return metricSamples(await answer.text());
}
