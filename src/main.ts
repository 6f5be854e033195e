#!/usr/bin/env node
/**
 * Composition root: configuration → logger → server; SIGINT/SIGTERM close it in order.
 */
import { relative } from 'node:path';
import { ConfigError, helpText, loadConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import { NagareServer, StartError } from './server.ts';
import { version } from './version.ts';

function displayBase(config: Readonly<Config>, port: number): string {
  if (config.publicUrl !== undefined) return config.publicUrl;
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const host = wildcard ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}

function banner(config: Readonly<Config>, server: NagareServer): string {
  const base = displayBase(config, server.port);
  const stored = server.generatedToken;
  let tokenLine: string;
  if (stored === undefined) {
    tokenLine = `${config.apiTokens.length} configured (--api-token / NAGARE_API_TOKENS)`;
  } else {
    const shortPath = relative(process.cwd(), stored.path);
    const where = shortPath.startsWith('..') ? stored.path : shortPath;
    tokenLine = stored.created ? `${stored.token}  (generated, kept in ${where})` : `kept in ${where}`;
  }
  return [
    '',
    `Nagare ${version} is running`,
    `  Channel API  POST ${base}/   (X-Sora-Target: <action>, Authorization: Bearer <token>)`,
    `  API token    ${tokenLine}`,
    `  Signaling    ${base.replace(/^http/, 'ws')}/signaling`,
    `  Health       ${base}/healthz`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  let config: Readonly<Config>;
  try {
    const result = loadConfig({ argv: process.argv.slice(2), env: process.env });
    if (result.kind === 'help') {
      process.stdout.write(helpText(version));
      return 0;
    }
    if (result.kind === 'version') {
      process.stdout.write(`${version}\n`);
      return 0;
    }
    config = result.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nagare: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const log = createLogger(config);
  const server = new NagareServer(config, log);
  try {
    await server.start();
  } catch (err) {
    if (err instanceof StartError) {
      process.stderr.write(`nagare: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(banner(config, server));

  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'stopping');
    void server.close(signal);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
  return 0;
}

process.exitCode = await main();
