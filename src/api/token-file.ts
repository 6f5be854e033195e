/**
 * When no API token is configured, one is generated at first start and kept in the data directory,
 * readable by the server's user only.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredToken {
  token: string;
  path: string;
  /** True when this start generated the token. */
  created: boolean;
}

export function loadOrCreateToken(dataDir: string): StoredToken {
  const path = join(dataDir, 'api-token');
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length > 0) return { token, path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  // 'wx' fails if another process created the file meanwhile; then its token wins.
  try {
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(dataDir);
    throw err;
  }
  return { token, path, created: true };
}
