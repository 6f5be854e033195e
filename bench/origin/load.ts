/**
 * One load run against one URL, with the CPU the server's processes used meanwhile, less what they use idle
 * (Nagare's process also runs the channel's mixer). The generator: autocannon (in its own process,
 * bench/origin/autocannon-child.ts; one JavaScript thread), or wrk (Debian's, in C, one thread per core), which
 * needs far less CPU per request and so leaves more of the shared cores to the server.
 */
import { spawn } from 'node:child_process';
import type { Result } from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOf, ensureDebianPackage } from '../bench-util.ts';

const childScript = new URL('./autocannon-child.ts', import.meta.url).pathname;

export interface LoadFigures {
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  throughputMBps: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Cores the server's processes used during the run, and idle (sampled before the runs). */
  serverCores: number;
  serverIdleCores: number;
  /**
   * Requests answered per CPU-second the server spent above idle: its efficiency, whoever was the bottleneck;
   * null when the run used no more than idle (a noisy sample on a busy machine).
   */
  requestsPerServerCpuSecond: number | null;
  /** Cores autocannon used: near 1, it was the bottleneck, not the server. */
  loadGeneratorCores: number;
}

const round = (value: number, digits = 0): number => Number(value.toFixed(digits));
/** How long a server's idle CPU is sampled. */
const idleSampleMs = 3000;

const cpuMsOfAll = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);

/** Cores `pids` use together over a short sample: the baseline a run's CPU is measured above. */
export async function idleCoresOf(pids: readonly number[]): Promise<number> {
  const start = cpuMsOfAll(pids);
  await sleep(idleSampleMs);
  return (cpuMsOfAll(pids) - start) / idleSampleMs;
}

/** Loads `url` with `connections` connections for `seconds`; the server's `pids` are summed for its CPU. */
export async function runLoad(
  url: string,
  connections: number,
  seconds: number,
  server: { pids: readonly number[]; idleCores: number },
): Promise<LoadFigures> {
  const child = spawn(process.execPath, [childScript, url, String(connections), String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cpuStart = cpuMsOfAll(server.pids);
  const startedAt = performance.now();
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallMs = performance.now() - startedAt;
  const serverCpuMs = cpuMsOfAll(server.pids) - cpuStart;
  if (code !== 0) throw new Error(`autocannon exited with ${String(code)}`);
  const { result, cpuMs } = JSON.parse(out) as { result: Result; cpuMs: number };
  const answered = result['2xx'] + result.non2xx;
  const aboveIdleMs = serverCpuMs - server.idleCores * wallMs;
  return {
    requestsPerSecond: round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    throughputMBps: round(result.throughput.average / 1e6, 1),
    requests: answered,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    serverCores: round(serverCpuMs / wallMs, 2),
    serverIdleCores: round(server.idleCores, 2),
    requestsPerServerCpuSecond: aboveIdleMs > 0 ? round(answered / (aboveIdleMs / 1000)) : null,
    loadGeneratorCores: round(cpuMs / wallMs, 2),
  };
}

export const wrkPath = '/usr/bin/wrk';

/** Installs Debian's wrk package when it is missing. */
export const ensureWrk = (): void => {
  ensureDebianPackage(wrkPath, 'wrk');
};

/** wrk's "1.23ms", "850.00us", "1.02s" in milliseconds. */
function wrkMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (match === null) throw new Error(`wrk printed a time it cannot be read as: ${text}`);
  const value = Number(match[1]);
  return round(match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value, 2);
}

/** wrk's "40.12MB" in MB. */
function wrkMB(text: string): number {
  const match = /^([\d.]+)(B|KB|MB|GB)$/.exec(text);
  if (match === null) throw new Error(`wrk printed a size it cannot be read as: ${text}`);
  const scale = { B: 1e-6, KB: 1024 / 1e6, MB: (1024 * 1024) / 1e6, GB: (1024 * 1024 * 1024) / 1e6 }[
    match[2] as 'B' | 'KB' | 'MB' | 'GB'
  ];
  return round(Number(match[1]) * scale, 1);
}

/** As runLoad, with wrk: one thread per core, `connections` keep-alive connections in all. */
export async function runWrk(
  url: string,
  connections: number,
  seconds: number,
  server: { pids: readonly number[]; idleCores: number },
): Promise<LoadFigures> {
  const threads = Math.min(2, connections);
  const child = spawn(wrkPath, [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cpuStart = cpuMsOfAll(server.pids);
  const startedAt = performance.now();
  let out = '';
  let generatorCpuMs = 0;
  // /proc/<pid> is gone once wrk has exited: its CPU is sampled while it runs (the last sample is within 100 ms).
  const sampler = setInterval(() => {
    generatorCpuMs = Math.max(generatorCpuMs, cpuMsOf(child.pid));
  }, 100);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  const wallMs = performance.now() - startedAt;
  const serverCpuMs = cpuMsOfAll(server.pids) - cpuStart;
  if (code !== 0) throw new Error(`wrk exited with ${String(code)}: ${out}`);
  const field = (pattern: RegExp): string => {
    const value = pattern.exec(out)?.[1];
    if (value === undefined) throw new Error(`wrk printed no ${String(pattern)}:\n${out}`);
    return value;
  };
  const requests = Number(field(/(\d+) requests in/));
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0');
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors =
    socketErrors === null ? 0 : Number(socketErrors[1]) + Number(socketErrors[2]) + Number(socketErrors[3]);
  const aboveIdleMs = serverCpuMs - server.idleCores * wallMs;
  return {
    requestsPerSecond: round(Number(field(/Requests\/sec:\s+([\d.]+)/))),
    latencyMs: {
      p50: wrkMs(field(/ 50%\s+(\S+)/)),
      p99: wrkMs(field(/ 99%\s+(\S+)/)),
      max: wrkMs(field(/Latency\s+\S+\s+\S+\s+(\S+)/)),
    },
    throughputMBps: wrkMB(field(/Transfer\/sec:\s+(\S+)/)),
    requests,
    errors,
    timeouts: socketErrors === null ? 0 : Number(socketErrors[4]),
    non2xx,
    serverCores: round(serverCpuMs / wallMs, 2),
    serverIdleCores: round(server.idleCores, 2),
    requestsPerServerCpuSecond: aboveIdleMs > 0 ? round(requests / (aboveIdleMs / 1000)) : null,
    loadGeneratorCores: round(generatorCpuMs / wallMs, 2),
  };
}
