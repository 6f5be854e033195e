/**
 * Debian's nginx as the reference static server: installed with apt-get when missing (as .ci/run installs
 * ffmpeg), run as a child with a generated configuration in a temporary directory, serving files the benchmark
 * writes there. `worker_processes auto` (one worker per core, as Debian's own nginx.conf has it), `sendfile` and
 * `tcp_nopush` on as in Debian's default, no access log; the same Content-Type, Cache-Control and CORS headers
 * as Nagare's origin, so both send comparable answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDebianPackage } from '../bench-util.ts';

export const nginxPath = '/usr/sbin/nginx';
/** Connections each worker may hold: room for any `connections` argument the benchmark is given. */
const workerConnections = 4096;
const startTimeoutMs = 5000;
const stopTimeoutMs = 5000;

/** Installs Debian's nginx package when it is missing. */
export const ensureNginx = (): void => {
  ensureDebianPackage(nginxPath, 'nginx');
};

export interface Nginx {
  readonly port: number;
  /** Where files to serve go: `<root>/<url path>`. */
  readonly root: string;
  /** Writes `bytes` where nginx serves `urlPath`. */
  put(urlPath: string, bytes: Uint8Array): Promise<void>;
  /** The master and its workers, for CPU accounting. */
  pids(): number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

function config(dir: string, root: string, port: number): string {
  const headers = (cache: string): string =>
    `add_header Cache-Control "${cache}"; add_header Access-Control-Allow-Origin "*";`;
  return `daemon off;
master_process on;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${dir}/client-body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ \\.m3u8$ { ${headers('public, max-age=1')} }
    location ~ \\.(m4s|mp4)$ { ${headers('public, max-age=31536000, immutable')} }
  }
}
`;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export async function startNginx(): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'nagare-bench-nginx-'));
  // Workers run as `nobody` when the master is root: the served tree must be readable by anyone.
  await chmod(dir, 0o755);
  const root = join(dir, 'www');
  await mkdir(root, { mode: 0o755 });
  const port = await freePort();
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, config(dir, root, port));
  let stderr = '';
  const child: ChildProcess = spawn(nginxPath, ['-p', dir, '-e', join(dir, 'error.log'), '-c', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = performance.now() + startTimeoutMs;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      await stop();
      throw new Error(`nginx did not start: ${stderr}${log}`);
    }
    await sleep(20);
  }
  const master = child.pid ?? 0;
  return {
    port,
    root,
    put: async (urlPath, bytes) => {
      const path = join(root, urlPath);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeFile(path, bytes, { mode: 0o644 });
    },
    pids: () => {
      const children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim();
      return [
        master,
        ...children
          .split(/\s+/)
          .filter((pid) => pid !== '')
          .map(Number),
      ];
    },
    stop,
  };
}
