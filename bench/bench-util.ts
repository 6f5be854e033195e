/**
 * What the media benchmarks share: the captured Chromium publisher looped to any length, CPU time of a process
 * from /proc, percentiles, Debian packages installed when missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { EncodedFrame } from '../src/rtp/encoded-frame.ts';
import { ingestCapture } from '../test/helpers/replay-source.ts';

/**
 * testdata/rtp/h264-opus.jsonl (Chromium, H.264 640x480 + Opus) from its first keyframe, looped to `seconds`, each
 * loop shifted by the capture's length; the first frame at channel time `startMs`.
 */
export function loopedCapture(seconds: number, startMs = 1000): EncodedFrame[] {
  const once = ingestCapture(new URL('../testdata/rtp/h264-opus.jsonl', import.meta.url).pathname);
  const firstKey = once.findIndex((f) => f.kind === 'video' && f.keyframe);
  const base = once.slice(firstKey);
  const firstMs = ((base[0]?.ptsTicks ?? 0) * 1000) / 90_000;
  const lastMs = Math.max(...base.map((f) => ((f.ptsTicks ?? 0) * 1000) / f.timescale));
  const loopMs = lastMs - firstMs + 40;
  const out: EncodedFrame[] = [];
  for (let loop = 0; loop * loopMs < seconds * 1000; loop++) {
    for (const frame of base) {
      const ms = ((frame.ptsTicks ?? 0) * 1000) / frame.timescale - firstMs + startMs + loop * loopMs;
      out.push({ ...frame, ptsTicks: Math.round((ms * frame.timescale) / 1000) });
    }
  }
  return out.sort((a, b) => (a.ptsTicks ?? 0) / a.timescale - (b.ptsTicks ?? 0) / b.timescale);
}

/** utime + stime of a process, ms (Linux /proc); 0 when it is gone. */
export function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** This process's user + system CPU, ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * CPU time the hypervisor gave to others while this machine's processes wanted it (steal, all cores), ms; 0 where
 * /proc/stat does not say. On a shared host it rises with the load a benchmark puts on the machine.
 */
export function machineStealMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
    return (Number(fields[8] ?? 0) * 1000) / 100;
  } catch {
    return 0;
  }
}

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

/** Installs Debian's package `name` when `program` is missing (needs root, as apt-get does). */
export function ensureDebianPackage(program: string, name: string): void {
  if (existsSync(program)) return;
  console.error(`installing: ${name}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', name], { stdio: 'inherit', env });
}
