/**
 * Test harness: a real NagareServer on port 0 in this process, or the real CLI (`src/main.ts`) as a child
 * process. Each gets its own temporary data directory, removed on close.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
    ...overrides,
  };
  const server = new NagareServer(config, pino({ level: 'silent' }), { authFailureDelayMs: 10, ...options });
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

/** One API call as a client would make it. `body` is JSON-encoded unless it is already a string. */
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
  if (token !== undefined) headers['Authorization'] = `Bearer ${token}`;
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
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      out += `${line}\n`;
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'listening' && entry.port !== undefined) resolve(entry.port);
    });
    void exited.then((code) => reject(new Error(`server exited (${String(code)}) before listening: ${err}`)));
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
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  return { code, stdout, stderr };
}
