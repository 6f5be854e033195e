/**
 * What the media benchmarks share: the captured Chromium publisher looped to any length, as Matroska for a bare
 * ffmpeg, and that bare ffmpeg's command line; CPU time of a process from /proc, percentiles, Debian packages
 * installed when missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { HlsVariant } from '../src/channel/channel-spec.ts';
import { matroskaFrame, matroskaHeader } from '../src/container/matroska-writer.ts';
import { segmentScheduleFor } from '../src/hls/segment-schedule.ts';
import { partTargetFor, type MediaOptions } from '../src/media/hls-output.ts';
import { directArgs } from '../src/media/media-args.ts';
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

/** CPU time of each process, ms, keyed by pid. */
export function cpuMsByPid(pids: Iterable<number | undefined>): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const pid of pids) if (pid !== undefined) byPid.set(pid, cpuMsOf(pid));
  return byPid;
}

/**
 * CPU spent between two cpuMsByPid() marks by the processes alive at the second: a process that started in between
 * counts whole. One that ended in between is not seen at the second mark and its last moments are lost (a restart,
 * which a benchmark counts as trouble anyway), but no figure goes negative when a pid's process is replaced.
 */
export function cpuMsBetween(start: ReadonlyMap<number, number>, end: ReadonlyMap<number, number>): number {
  let ms = 0;
  for (const [pid, atEnd] of end) ms += Math.max(0, atEnd - (start.get(pid) ?? 0));
  return ms;
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

/** The frames as Matroska, as Nagare's decoder and direct encoder receive them, for a bare ffmpeg to read. */
export async function writeMatroskaInput(path: string, frames: readonly EncodedFrame[]): Promise<void> {
  const header = matroskaHeader([
    { number: 1, codec: 'H264' },
    { number: 2, codec: 'opus' },
  ]);
  const blocks = frames.map((f) =>
    matroskaFrame(f.kind === 'video' ? 1 : 2, ((f.ptsTicks ?? 0) * 1000) / f.timescale, f.keyframe, f.data),
  );
  await writeFile(path, Buffer.concat([header, ...blocks]));
}

/**
 * One channel's work in one bare ffmpeg: the command line of Nagare's direct encoder (directArgs), so the two cannot
 * drift apart, reading `input` (writeMatroskaInput) at its own pace (-re) instead of from Nagare, writing its fMP4 to
 * pipe 3 and its progress to pipe 1. No -copyts: ffmpeg starts the file's times at 0, as Nagare's run starts.
 */
export function bareArgs(input: string, variant: HlsVariant, media: MediaOptions): string[] {
  const direct = directArgs({
    canvas: { width: variant.video.width, height: variant.video.height, fps: variant.video.fps },
    variants: [variant],
    partSeconds: media.partSeconds,
    schedule: segmentScheduleFor(
      variant.durationSeconds,
      partTargetFor(media.partSeconds, variant.video.fps),
      [variant.video.fps],
    ),
    preset: media.preset,
  });
  const fromPipe = ['-f', 'matroska', '-i', 'pipe:0'];
  const at = direct.findIndex((_, index) => fromPipe.every((arg, k) => direct[index + k] === arg));
  if (at < 0 || !direct.includes('-copyts')) throw new Error(`unexpected direct command ${direct.join(' ')}`);
  return [
    ...direct.slice(0, at).filter((arg) => arg !== '-copyts'),
    ...['-progress', 'pipe:1', '-stats_period', '0.1'],
    ...['-re', '-f', 'matroska', '-i', input],
    ...direct.slice(at + fromPipe.length),
  ];
}
