/**
 * The real CLI as a child process: channels survive a stop and a crash, the generated API token is kept
 * in the data directory, and SIGTERM ends the process cleanly.
 */
import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  callApi,
  createChannel,
  listChannelIds,
  makeTempDir,
  spawnServer,
  type ServerProcess,
} from '../helpers/server.ts';

const token = 'restart-token-0123456789abcdef';
const describeChannel = 'Nagare_20261124.DescribeChannel';

const started: ServerProcess[] = [];
const dirs: string[] = [];

async function start(args: string[]): Promise<ServerProcess> {
  const server = await spawnServer(args);
  started.push(server);
  return server;
}

async function tempDir(): Promise<string> {
  const dir = await makeTempDir('nagare-restart-');
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop('SIGKILL')));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Polls until `predicate` holds; the banner is printed after the 'listening' log line that spawnServer waits for. */
async function eventually(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A DescribeChannel answer with its URLs cut to their paths: the port changes from one start to the next. */
function withoutPort(json: unknown): Record<string, unknown> {
  const { sora_url, playlist_url, ...rest } = json as Record<string, string>;
  return { ...rest, sora_path: new URL(sora_url!).pathname, playlist_path: new URL(playlist_url!).pathname };
}

test('a channel created before a SIGTERM is listed and described after a restart on the same data dir', async () => {
  const dataDir = await tempDir();
  const args = ['--data-dir', dataDir, '--api-token', token];
  const first = await start(args);
  const channelId = await createChannel(first.url, undefined, token);
  const before = await callApi(first.url, describeChannel, { channel_id: channelId }, token);
  assert.equal(await first.stop('SIGTERM'), 0);

  const second = await start(args);
  assert.deepEqual(await listChannelIds(second.url, token), [channelId]);
  const after = await callApi(second.url, describeChannel, { channel_id: channelId }, token);
  assert.equal(after.status, 200);
  assert.deepEqual(withoutPort(after.json), withoutPort(before.json), 'the same record, same playlist path');
});

test('a channel acknowledged with 200 survives a SIGKILL right after the answer', async () => {
  const dataDir = await tempDir();
  const args = ['--data-dir', dataDir, '--api-token', token];
  const first = await start(args);
  const channelId = await createChannel(first.url, undefined, token);
  assert.equal(await first.stop('SIGKILL'), 'SIGKILL');

  const second = await start(args);
  assert.deepEqual(await listChannelIds(second.url, token), [channelId]);
});

test('without a configured token the first start generates one into <data-dir>/api-token and prints it once', async () => {
  const dataDir = await tempDir();
  const first = await start(['--data-dir', dataDir]);
  await eventually(() => first.stdout().includes('API token'), 'the banner');

  const tokenPath = join(dataDir, 'api-token');
  assert.equal((await stat(tokenPath)).mode & 0o777, 0o600, 'readable by the server user only');
  const generated = (await readFile(tokenPath, 'utf8')).trim();
  assert.ok(generated.length >= 16, generated);
  assert.ok(first.stdout().includes(generated), 'the generated token is printed on stdout');
  const channelId = await createChannel(first.url, undefined, generated);
  assert.equal(await first.stop('SIGTERM'), 0);

  const second = await start(['--data-dir', dataDir]);
  await eventually(() => second.stdout().includes('API token'), 'the banner');
  assert.ok(!second.stdout().includes(generated), 'a reused token is not printed again');
  assert.ok(second.stdout().includes('api-token'), 'the banner says where the token is kept');
  assert.equal((await readFile(tokenPath, 'utf8')).trim(), generated, 'the token file is unchanged');
  assert.deepEqual(await listChannelIds(second.url, generated), [channelId]);
});

test('SIGTERM ends the process with exit code 0 within a few seconds, even after keep-alive requests', async () => {
  const dataDir = await tempDir();
  const server = await start(['--data-dir', dataDir, '--api-token', token]);
  await createChannel(server.url, undefined, token);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();

  const begin = Date.now();
  const result = await server.stop('SIGTERM');
  const tookMs = Date.now() - begin;
  assert.equal(result, 0);
  assert.ok(tookMs < 3000, `took ${tookMs} ms`);
});
