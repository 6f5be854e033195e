/**
 * One load run: autocannon (in its own process, bench/origin/autocannon-child.ts) against one URL, with the CPU
 * the server's processes used meanwhile, less what they use idle (Nagare's process also runs the channel's mixer).
 */
import { spawn } from 'node:child_process';
import type { Result } from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOf } from '../bench-util.ts';

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
